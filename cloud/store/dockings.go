package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// dockings writes the batch's docking messages: one row per message
// (inventory part or complete marker) and the inventory's segments. An
// inventoried segment keeps the claim of its first listing; a later
// docking listing it again only moves docked_ns.
func (w *writer) dockings(ctx context.Context) error {
	var rows, inv [][]any
	for _, i := range w.fresh {
		b, ok := w.msgs[i].Body.(*wire.Docking)
		if !ok {
			continue
		}
		dn := b.DockedAt.UnixNano()
		rows = append(rows, []any{b.Serial, dn, b.Phase, b.Part, b.Parts, w.msgs[i].Env.Dock, int64(b.LastSeq), b.Recording,
			b.Copied, w.now})
		for _, s := range b.Segments {
			inv = append(inv, []any{b.Serial, int64(s.Seq), dn, s.Start.UnixNano(), s.End.UnixNano(), s.Size, s.SHA256,
				s.StopCause, w.now})
			w.raiseSpan(b.Serial, false, s.Start.UnixNano(), s.End.UnixNano())
		}
	}
	if err := w.s.multi(ctx, w.tx, "dockings", `serial TEXT, docked_ns BIGINT, phase TEXT, part BIGINT, parts BIGINT,
		dock TEXT, last_seq BIGINT, recording BOOLEAN, copied BIGINT, received_ns BIGINT`,
		`ON CONFLICT (serial, docked_ns, phase, part) DO NOTHING`, rows, nil); err != nil {
		return err
	}
	// One statement may not touch a row twice (PostgreSQL): the batch's
	// last listing of a (serial, seq) wins, which is the same claim.
	seen := map[segKey]int{}
	uniq := inv[:0]
	for _, r := range inv {
		k := segKey{r[0].(string), uint64(r[1].(int64))}
		if j, ok := seen[k]; ok {
			uniq[j] = r
			continue
		}
		seen[k] = len(uniq)
		uniq = append(uniq, r)
	}
	// Key order, as every step of commitTx takes its locks.
	slices.SortFunc(uniq, func(a, b []any) int {
		return cmp.Or(cmp.Compare(a[0].(string), b[0].(string)), cmp.Compare(a[1].(int64), b[1].(int64)))
	})
	return w.s.multi(ctx, w.tx, "inventory", `serial TEXT, seq BIGINT, docked_ns BIGINT, start_ns BIGINT, end_ns BIGINT,
		size BIGINT, sha256 TEXT, stop_cause TEXT, received_ns BIGINT`,
		`ON CONFLICT (serial, seq) DO UPDATE SET docked_ns = CASE WHEN excluded.docked_ns > inventory.docked_ns
			THEN excluded.docked_ns ELSE inventory.docked_ns END`, uniq, nil)
}

// Inventoried is a segment a recorder listed at a docking.
type Inventoried struct {
	Serial     string
	Seq        uint64
	DockedAt   time.Time // the latest docking that listed it
	Start, End time.Time // device clock
	Size       int64
	SHA256     string
	StopCause  string
	ReceivedAt time.Time // collector time the listing was first committed
}

// Inventory lists serial's inventoried segments whose device-time span
// overlaps [from, to) (zero bounds are open), by seq.
func (s *Store) Inventory(ctx context.Context, serial string, from, to time.Time) ([]Inventoried, error) {
	m, err := s.InventoryOf(ctx, []Span{{serial, from, to}})
	return m[serial], err
}

// inventoryOfSQL reads the inventoried segments overlapping each span of
// w: the index range [lo - the recorder's longest inventoried span, hi) of
// inventory_by_time, not its whole history before hi (spans.go), per
// recorder (perRow).
func (d dialect) inventoryOfSQL() string {
	return `, b (serial, lo, hi, floor_ns) AS (SELECT w.serial, w.lo, w.hi, ` + spanFloor("w.lo", "p.inventory_ns") + `
		FROM w LEFT JOIN recorder_spans p ON p.serial = w.serial)
	SELECT v.serial, v.seq, v.docked_ns, v.start_ns, v.end_ns, v.size, v.sha256, v.stop_cause, v.received_ns
		FROM b ` + d.perRow("inventory", "v", `v.serial = b.serial AND v.start_ns >= b.floor_ns AND v.start_ns < b.hi AND v.end_ns >= b.lo`) + `
		ORDER BY v.serial, v.seq`
}

// InventoryOf is Inventory for each span's recorder, in one statement: the
// inventoried segments by serial.
func (s *Store) InventoryOf(ctx context.Context, spans []Span) (map[string][]Inventoried, error) {
	rows, err := spanRows(spans)
	if err != nil {
		return nil, fmt.Errorf("store: inventory: %w", err)
	}
	out := make(map[string][]Inventoried, len(spans))
	err = s.withRows(ctx, spanCols, rows, s.d.inventoryOfSQL(), nil,
		func(rs *sql.Rows) error {
			var v Inventoried
			var seq, dn, st, en, rc int64
			if err := rs.Scan(&v.Serial, &seq, &dn, &st, &en, &v.Size, &v.SHA256, &v.StopCause, &rc); err != nil {
				return err
			}
			v.Seq = uint64(seq)
			v.DockedAt, v.Start, v.End, v.ReceivedAt = time.Unix(0, dn).UTC(), time.Unix(0, st).UTC(), time.Unix(0, en).UTC(), time.Unix(0, rc).UTC()
			out[v.Serial] = append(out[v.Serial], v)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("store: inventory: %w", err)
	}
	return out, nil
}

// DockingSummary is what a recorder's dockings say of its sequence.
type DockingSummary struct {
	// LastSeq is the highest sequence number the recorder ever said it
	// assigned, and Recording whether it was recording at the docking that
	// said so (a segment still being recorded is not yet listed).
	LastSeq   uint64
	Recording bool
	// Latest is the newest docking; Listed reports whether all its
	// inventory parts are in, Complete whether its complete marker is.
	Latest   time.Time
	Dock     string
	Listed   bool
	Complete bool
}

// Dockings summarises serial's dockings; ok is false if it has none.
func (s *Store) Dockings(ctx context.Context, serial string) (sum DockingSummary, ok bool, err error) {
	m, err := s.DockingsOf(ctx, []string{serial})
	sum, ok = m[serial]
	return sum, ok, err
}

// DockingsOf is Dockings for each of serials, in one statement: the
// summaries of those with dockings, by serial.
func (s *Store) DockingsOf(ctx context.Context, serials []string) (map[string]DockingSummary, error) {
	rows, err := serialRows(serials)
	if err != nil {
		return nil, fmt.Errorf("store: dockings: %w", err)
	}
	out := make(map[string]DockingSummary, len(serials))
	// m: each recorder's highest seq and latest docking, each one probe
	// of an index (dockings_by_seq, the primary key), not a read of all
	// its dockings; then the recording flag of the docking that said the
	// highest seq (dockings_by_seq again), and the latest docking's parts.
	err = s.withRows(ctx, `serial TEXT`, rows, `, m (serial, last_seq, latest) AS (
			SELECT w.serial,
				(SELECT d.last_seq FROM dockings d WHERE d.serial = w.serial ORDER BY d.last_seq DESC LIMIT 1),
				(SELECT d.docked_ns FROM dockings d WHERE d.serial = w.serial ORDER BY d.docked_ns DESC LIMIT 1)
			FROM w)
		SELECT m.serial, m.last_seq, m.latest,
			(SELECT d2.recording FROM dockings d2 WHERE d2.serial = m.serial ORDER BY d2.last_seq DESC, d2.docked_ns DESC LIMIT 1),
			COALESCE(MAX(CASE WHEN l.phase = ? THEN l.parts END), 0), COUNT(CASE WHEN l.phase = ? THEN 1 END),
			COUNT(CASE WHEN l.phase = ? THEN 1 END), MAX(l.dock)
		FROM m CROSS JOIN dockings l WHERE l.serial = m.serial AND l.docked_ns = m.latest
		GROUP BY m.serial, m.last_seq, m.latest ORDER BY m.serial`,
		[]any{wire.DockingInventory, wire.DockingInventory, wire.DockingComplete}, func(rs *sql.Rows) error {
			var serial string
			var sum DockingSummary
			var last, latest, parts, seen, complete int64
			var rec sql.NullBool
			if err := rs.Scan(&serial, &last, &latest, &rec, &parts, &seen, &complete, &sum.Dock); err != nil {
				return err
			}
			sum.LastSeq, sum.Recording, sum.Latest = uint64(last), rec.Bool, time.Unix(0, latest).UTC()
			sum.Listed, sum.Complete = parts > 0 && seen >= parts, complete > 0
			out[serial] = sum
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("store: dockings: %w", err)
	}
	return out, nil
}

// LateArrivals maps each recorder with segments or inventory committed at
// or after since whose recording started before before, to the earliest
// such start (corrected for segments, device time for inventory): footage
// older than the lookback that must be judged all the same.
func (s *Store) LateArrivals(ctx context.Context, since, before time.Time) (map[string]time.Time, error) {
	return s.lateArrivals(ctx, nil, since, before)
}

// LateArrivalsOf is LateArrivals for serials only.
func (s *Store) LateArrivalsOf(ctx context.Context, serials []string, since, before time.Time) (map[string]time.Time, error) {
	if len(serials) == 0 {
		return map[string]time.Time{}, nil
	}
	return s.lateArrivals(ctx, serials, since, before)
}

func (s *Store) lateArrivals(ctx context.Context, serials []string, since, before time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	of := ""
	args := []any{since.UnixNano(), before.UnixNano()}
	if serials != nil {
		of = ` AND serial IN (?` + strings.Repeat(", ?", len(serials)-1) + `)`
		for _, sn := range serials {
			args = append(args, sn)
		}
	}
	for _, q := range []string{
		`SELECT serial, MIN(corr_start_ns) FROM segments WHERE updated_ns >= ? AND corr_start_ns < ?` + of + ` GROUP BY serial`,
		`SELECT serial, MIN(start_ns) FROM inventory WHERE received_ns >= ? AND start_ns < ?` + of + ` GROUP BY serial`,
	} {
		rs, err := s.db.QueryContext(ctx, s.d.q(q), args...)
		if err != nil {
			return nil, fmt.Errorf("store: late arrivals: %w", err)
		}
		for rs.Next() {
			var serial string
			var at int64
			if err := rs.Scan(&serial, &at); err != nil {
				rs.Close()
				return nil, fmt.Errorf("store: late arrivals: %w", err)
			}
			if t := time.Unix(0, at).UTC(); out[serial].IsZero() || t.Before(out[serial]) {
				out[serial] = t
			}
		}
		if err := errors.Join(rs.Err(), rs.Close()); err != nil {
			return nil, fmt.Errorf("store: late arrivals: %w", err)
		}
	}
	return out, nil
}
