package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Audit record statuses.
const (
	// AuditVerified: hash right and linked to the stored previous record (or
	// genesis). It judges this link; an earlier one may still be pending.
	AuditVerified = "verified"
	AuditPending  = "pending" // hash right; the previous record has not arrived yet
	AuditBroken   = "broken"  // hash wrong, or does not follow the previous record
)

// Kinds of audit breaks.
const (
	BreakHash = "hash" // the record's hash does not match its contents
	BreakLink = "link" // the record does not follow the stored previous record
	BreakFork = "fork" // a second, different record with an index already stored
)

// AuditBreak is a flagged break in a dock's audit chain. The offending
// record is kept (Record) even when it could not be stored in the chain.
type AuditBreak struct {
	ID         int64
	Dock       string
	Index      uint64
	Kind       string
	Detail     string
	Record     wire.AuditRecord
	MsgID      string
	DetectedAt time.Time
}

type auditKey struct {
	dock string
	idx  uint64
}

type auditRow struct {
	rec    wire.AuditRecord
	status string
	stored bool // already in the table before this batch
}

// audit stores the batch's audit records, verifying each link with
// wire.AuditRecord.VerifyLink against the stored or just-written previous
// record. Records may arrive out of order (several collectors share the
// subscription): one whose predecessor is missing is stored as pending and
// verified when the predecessor arrives. Nothing is rejected: breaks are
// stored in audit_breaks and the record marked broken.
func (w *writer) audit(ctx context.Context) error {
	type in struct {
		dock string
		msg  string
		rec  *wire.AuditRecord
		i    int // the message's index in the batch
	}
	var ins []in
	for _, i := range w.fresh {
		if r, ok := w.msgs[i].Body.(*wire.AuditRecord); ok {
			ins = append(ins, in{w.msgs[i].Env.Dock, w.msgs[i].Env.ID, r, i})
		}
	}
	if len(ins) == 0 {
		return nil
	}
	slices.SortStableFunc(ins, func(a, b in) int {
		if c := strings.Compare(a.dock, b.dock); c != 0 {
			return c
		}
		switch {
		case a.rec.Index < b.rec.Index:
			return -1
		case a.rec.Index > b.rec.Index:
			return 1
		}
		return 0
	})
	// Load the stored neighbours: index-1, index and index+1 of each.
	want := map[auditKey]bool{}
	for _, x := range ins {
		want[auditKey{x.dock, x.rec.Index}] = true
		want[auditKey{x.dock, x.rec.Index + 1}] = true
		if x.rec.Index > 0 {
			want[auditKey{x.dock, x.rec.Index - 1}] = true
		}
	}
	known, err := w.loadAudit(ctx, want)
	if err != nil {
		return err
	}
	var rows, breaks [][]any
	type upd struct {
		key    auditKey
		status string
	}
	var updates []upd
	addBreak := func(dock string, r *wire.AuditRecord, kind, detail, msg string) error {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		breaks = append(breaks, []any{dock, int64(r.Index), kind, detail, string(b), msg, w.now})
		return nil
	}
	for _, x := range ins {
		k := auditKey{x.dock, x.rec.Index}
		if have, ok := known[k]; ok {
			if have.rec.Hash == x.rec.Hash {
				continue // the same record again, under another message id
			}
			if err := addBreak(x.dock, x.rec, BreakFork, fmt.Sprintf("index %d already holds hash %s", x.rec.Index, have.rec.Hash), x.msg); err != nil {
				return err
			}
			continue
		}
		status := AuditPending
		var prev *wire.AuditRecord
		havePrev := x.rec.Index == 0
		if !havePrev {
			if p, ok := known[auditKey{x.dock, x.rec.Index - 1}]; ok {
				prev, havePrev = &p.rec, true
			}
		}
		if havePrev {
			status = AuditVerified
			if err := x.rec.VerifyLink(x.dock, prev); err != nil {
				status = AuditBroken
				kind := BreakLink
				if h, herr := x.rec.ComputeHash(x.dock); herr != nil || h != x.rec.Hash {
					kind = BreakHash
				}
				if err := addBreak(x.dock, x.rec, kind, err.Error(), x.msg); err != nil {
					return err
				}
			}
		} else if h, err := x.rec.ComputeHash(x.dock); err != nil || h != x.rec.Hash {
			status = AuditBroken
			detail := fmt.Sprintf("%v: index %d: hash %s, computed %s", wire.ErrChainBroken, x.rec.Index, x.rec.Hash, h)
			if err != nil {
				detail = err.Error()
			}
			if err := addBreak(x.dock, x.rec, BreakHash, detail, x.msg); err != nil {
				return err
			}
		}
		r := *x.rec
		known[k] = auditRow{rec: r, status: status}
		proof, err := proofJSON(r.Proof)
		if err != nil {
			return err
		}
		rows = append(rows, []any{x.dock, int64(r.Index), r.Time.UnixNano(), r.Action, int64(r.Slot), r.Serial,
			int64(r.Seq), r.Detail, r.Prev, r.Hash, status, x.msg, w.now, proof, w.proven[x.i].key, w.proven[x.i].at})
		// A stored successor that was waiting for this record.
		nk := auditKey{x.dock, x.rec.Index + 1}
		if next, ok := known[nk]; ok && next.stored && next.status == AuditPending {
			st := AuditVerified
			if err := next.rec.VerifyLink(x.dock, &r); err != nil {
				st = AuditBroken
				if err := addBreak(x.dock, &next.rec, BreakLink, err.Error(), x.msg); err != nil {
					return err
				}
			}
			next.status = st
			known[nk] = next
			updates = append(updates, upd{nk, st})
		}
	}
	if err := w.s.multi(ctx, w.tx, "audit_records", `dock TEXT, idx BIGINT, time_ns BIGINT, action TEXT, slot BIGINT,
		serial TEXT, seq BIGINT, detail TEXT, prev TEXT, hash TEXT, status TEXT, msg_id TEXT, received_ns BIGINT, proof TEXT,
		proof_key TEXT, proof_at BIGINT`, `ON CONFLICT (dock, idx) DO NOTHING`, rows, nil); err != nil {
		return fmt.Errorf("records: %w", err)
	}
	for _, u := range updates {
		if _, err := w.tx.ExecContext(ctx, w.s.d.q(`UPDATE audit_records SET status = ? WHERE dock = ? AND idx = ?`),
			u.status, u.key.dock, int64(u.key.idx)); err != nil {
			return fmt.Errorf("status: %w", err)
		}
	}
	if err := w.s.multi(ctx, w.tx, "audit_breaks", `dock TEXT, idx BIGINT, kind TEXT, detail TEXT, record TEXT,
		msg_id TEXT, detected_ns BIGINT`, ``,
		breaks, nil); err != nil {
		return fmt.Errorf("breaks: %w", err)
	}
	if len(breaks) > 0 {
		w.s.log.Warn("store: audit chain break", "breaks", len(breaks))
	}
	return nil
}

// loadAudit reads the stored audit records with the wanted keys.
func (w *writer) loadAudit(ctx context.Context, want map[auditKey]bool) (map[auditKey]auditRow, error) {
	keys := make([][]any, 0, len(want))
	for k := range want {
		if k.idx <= 1<<63-1 {
			keys = append(keys, []any{k.dock, int64(k.idx)})
		}
	}
	known := map[auditKey]auditRow{}
	sel, from := w.s.d.rowSource([]column{{"dock", "TEXT"}, {"idx", "BIGINT"}})
	q := w.s.d.q(`SELECT ` + auditColumns + `
		FROM audit_records WHERE (dock, idx) IN (SELECT ` + sel + ` ` + from + `)`)
	for start := 0; start < len(keys); start += maxRowsPerStatement {
		js, err := json.Marshal(keys[start:min(len(keys), start+maxRowsPerStatement)])
		if err != nil {
			return nil, err
		}
		rs, err := w.tx.QueryContext(ctx, q, string(js))
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		for rs.Next() {
			var dock string
			r, st, err := scanAudit(rs, &dock)
			if err != nil {
				rs.Close()
				return nil, err
			}
			known[auditKey{dock, r.Index}] = auditRow{rec: r, status: st, stored: true}
		}
		if err := errors.Join(rs.Close(), rs.Err()); err != nil {
			return nil, err
		}
	}
	return known, nil
}

// auditColumns are the columns scanAudit reads.
const auditColumns = `dock, idx, time_ns, action, slot, serial, seq, detail, prev, hash, status, proof`

func scanAudit(rs *sql.Rows, dock *string) (wire.AuditRecord, string, error) {
	var r wire.AuditRecord
	var idx, tns, slot, seq int64
	var st, proof string
	if err := rs.Scan(dock, &idx, &tns, &r.Action, &slot, &r.Serial, &seq, &r.Detail, &r.Prev, &r.Hash, &st, &proof); err != nil {
		return r, "", err
	}
	r.Index, r.Time, r.Slot, r.Seq = uint64(idx), time.Unix(0, tns).UTC(), int(slot), uint64(seq)
	if proof != "" {
		r.Proof = new(wire.AuthProof)
		if err := json.Unmarshal([]byte(proof), r.Proof); err != nil {
			return r, "", fmt.Errorf("audit record %d proof: %w", r.Index, err)
		}
	}
	return r, st, nil
}

// proofJSON is how audit_records.proof holds a record's proof: "" for none.
func proofJSON(p *wire.AuthProof) (string, error) {
	if p == nil {
		return "", nil
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// AuditBreaks lists every flagged break, oldest first.
func (s *Store) AuditBreaks(ctx context.Context) ([]AuditBreak, error) {
	rs, err := s.db.QueryContext(ctx, `SELECT id, dock, idx, kind, detail, record, msg_id, detected_ns
		FROM audit_breaks ORDER BY detected_ns, id`)
	if err != nil {
		return nil, fmt.Errorf("store: audit breaks: %w", err)
	}
	defer rs.Close()
	var out []AuditBreak
	for rs.Next() {
		var b AuditBreak
		var idx, det int64
		var rec string
		if err := rs.Scan(&b.ID, &b.Dock, &idx, &b.Kind, &b.Detail, &rec, &b.MsgID, &det); err != nil {
			return nil, fmt.Errorf("store: audit breaks: %w", err)
		}
		b.Index, b.DetectedAt = uint64(idx), time.Unix(0, det).UTC()
		if err := json.Unmarshal([]byte(rec), &b.Record); err != nil {
			return nil, fmt.Errorf("store: audit break %d record: %w", b.ID, err)
		}
		out = append(out, b)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: audit breaks: %w", err)
	}
	return out, nil
}

// AuditRecord is a stored audit record and its verification status.
type AuditRecord struct {
	Dock   string
	Record wire.AuditRecord
	Status string // AuditVerified, AuditPending or AuditBroken
}

// AuditStalled lists records still pending that arrived before before: a
// predecessor that never came is a hole in the dock's log (lost or
// withheld records), for the custodian to look into. Oldest first, at most
// limit (<= 0: 1000).
func (s *Store) AuditStalled(ctx context.Context, before time.Time, limit int) ([]AuditRecord, error) {
	if limit <= 0 {
		limit = 1000
	}
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT `+auditColumns+`
		FROM audit_records WHERE status = ? AND received_ns < ? ORDER BY received_ns, dock, idx LIMIT ?`),
		AuditPending, before.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: stalled audit records: %w", err)
	}
	return collectAudit(rs)
}

// AuditRecords lists a dock's stored audit records from index from, in
// index order, at most limit (<= 0: 1000).
func (s *Store) AuditRecords(ctx context.Context, dock string, from uint64, limit int) ([]AuditRecord, error) {
	if limit <= 0 {
		limit = 1000
	}
	if from > 1<<63-1 {
		return nil, nil
	}
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT `+auditColumns+`
		FROM audit_records WHERE dock = ? AND idx >= ? ORDER BY idx LIMIT ?`), dock, int64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit records: %w", err)
	}
	return collectAudit(rs)
}

func collectAudit(rs *sql.Rows) ([]AuditRecord, error) {
	defer rs.Close()
	var out []AuditRecord
	for rs.Next() {
		var a AuditRecord
		r, st, err := scanAudit(rs, &a.Dock)
		if err != nil {
			return nil, fmt.Errorf("store: audit records: %w", err)
		}
		a.Record, a.Status = r, st
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: audit records: %w", err)
	}
	return out, nil
}
