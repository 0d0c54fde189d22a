package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// claim fingerprints what a recorder says about a segment that must never
// change: a later manifest with another claim is stored as a conflict, not
// applied.
func claim(b *wire.SegmentManifest) string {
	return fmt.Sprintf("sha256=%s size=%d start=%d end=%d", b.SHA256, b.Size, b.Start.UnixNano(), b.End.UnixNano())
}

// segmentSet is the upsert of a manifest. Immutable: start, end, size,
// sha256, first_seen (a manifest with a different claim lands in
// conflict_claim and changes nothing else reported). The earliest clock
// sync wins (it is nearest the recording). Reported state follows the
// newest agreeing manifest. Sticky: a dock-computed hash, a mismatch, a
// receipt, follows_interruption. time_source is the first manifest's.
const segmentSet = `ON CONFLICT (serial, seq) DO UPDATE SET
	conflict_claim = CASE WHEN excluded.claim <> segments.claim THEN excluded.claim
		WHEN excluded.conflict_claim IS NOT NULL THEN excluded.conflict_claim
		ELSE segments.conflict_claim END,
	clock_offset_ms = CASE WHEN ` + earlierSync + ` THEN excluded.clock_offset_ms ELSE segments.clock_offset_ms END,
	corr_start_ns = CASE WHEN ` + earlierSync + ` THEN excluded.corr_start_ns ELSE segments.corr_start_ns END,
	corr_end_ns = CASE WHEN ` + earlierSync + ` THEN excluded.corr_end_ns ELSE segments.corr_end_ns END,
	clock_synced_ns = CASE WHEN ` + earlierSync + ` THEN excluded.clock_synced_ns ELSE segments.clock_synced_ns END,
	computed = CASE WHEN segments.computed = '' THEN excluded.computed ELSE segments.computed END,
	hash_mismatch = CASE WHEN excluded.hash_mismatch THEN excluded.hash_mismatch ELSE segments.hash_mismatch END,
	follows_interruption = CASE WHEN excluded.follows_interruption THEN excluded.follows_interruption
		ELSE segments.follows_interruption END,
	receipt_object = CASE WHEN segments.receipt_object IS NULL THEN excluded.receipt_object ELSE segments.receipt_object END,
	receipt_sha256 = CASE WHEN segments.receipt_object IS NULL THEN excluded.receipt_sha256 ELSE segments.receipt_sha256 END,
	receipt_size = CASE WHEN segments.receipt_object IS NULL THEN excluded.receipt_size ELSE segments.receipt_size END,
	receipt_stored_ns = CASE WHEN segments.receipt_object IS NULL THEN excluded.receipt_stored_ns ELSE segments.receipt_stored_ns END,
	receipt_key_id = CASE WHEN segments.receipt_object IS NULL THEN excluded.receipt_key_id ELSE segments.receipt_key_id END,
	receipt_sig = CASE WHEN segments.receipt_object IS NULL THEN excluded.receipt_sig ELSE segments.receipt_sig END,
	updated_ns = excluded.updated_ns,
	`

const earlierSync = `(excluded.clock_synced_ns IS NOT NULL AND (segments.clock_synced_ns IS NULL OR excluded.clock_synced_ns < segments.clock_synced_ns))`

const segmentCols = `serial TEXT, seq BIGINT, dock TEXT, msg_id TEXT, start_ns BIGINT, end_ns BIGINT,
	clock_offset_ms BIGINT, clock_synced_ns BIGINT, corr_start_ns BIGINT, corr_end_ns BIGINT, size BIGINT, sha256 TEXT,
	computed TEXT, hash_mismatch BOOLEAN, stop_cause TEXT, officer TEXT, case_tag TEXT, media TEXT, state TEXT,
	fault TEXT, follows_interruption BOOLEAN, receipt_object TEXT, receipt_sha256 TEXT, receipt_size BIGINT,
	receipt_stored_ns BIGINT, receipt_key_id TEXT, receipt_sig TEXT, claim TEXT, conflict_claim TEXT,
	first_seen_ns BIGINT, reported_ns BIGINT, updated_ns BIGINT, time_source TEXT`

// timeSource is the stored time_source of a manifest ("" is a DockLink
// recorder's clock).
func timeSource(b *wire.SegmentManifest) string {
	if b.TimeSource == "" {
		return wire.TimeSourceDevice
	}
	return b.TimeSource
}

type segKey struct {
	serial string
	seq    uint64
}

func (w *writer) segments(ctx context.Context) error {
	groups := map[segKey][]int{}
	for _, i := range w.fresh {
		if b, ok := w.msgs[i].Body.(*wire.SegmentManifest); ok {
			k := segKey{b.Serial, b.Seq}
			groups[k] = append(groups[k], i)
		}
	}
	keys := make([]segKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b segKey) int {
		if a.serial != b.serial {
			if a.serial < b.serial {
				return -1
			}
			return 1
		}
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	rows := make([][]any, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		// Oldest first: it supplies the immutable claim; the newest the
		// reported state.
		slices.SortStableFunc(g, func(a, b int) int {
			if w.newer(a, b) {
				return 1
			}
			if w.newer(b, a) {
				return -1
			}
			return 0
		})
		base := w.msgs[g[0]].Body.(*wire.SegmentManifest)
		// The newest manifest that agrees with the claim reports the
		// state; a disagreeing one is only recorded as the conflict.
		last := w.msgs[g[0]]
		for _, i := range g {
			if claim(w.msgs[i].Body.(*wire.SegmentManifest)) == claim(base) {
				last = w.msgs[i]
			}
		}
		lb := last.Body.(*wire.SegmentManifest)
		var conflict any
		computed, mismatch, follows := "", false, false
		sync := g[0]
		for _, i := range g {
			b := w.msgs[i].Body.(*wire.SegmentManifest)
			if c := claim(b); c != claim(base) {
				conflict = c
			}
			if computed == "" && b.Computed != "" {
				computed = b.Computed
			}
			if b.Computed != "" && b.Computed != b.SHA256 {
				mismatch = true
			}
			follows = follows || b.FollowsInterruption
			if sb := w.msgs[sync].Body.(*wire.SegmentManifest); !b.ClockSyncedAt.IsZero() &&
				(sb.ClockSyncedAt.IsZero() || b.ClockSyncedAt.Before(sb.ClockSyncedAt)) {
				sync = i
			}
		}
		sb := w.msgs[sync].Body.(*wire.SegmentManifest)
		off := time.Duration(sb.ClockOffsetMs) * time.Millisecond
		var rc *wire.Receipt
		for _, i := range g {
			if r := w.msgs[i].Body.(*wire.SegmentManifest).Receipt; r != nil {
				rc = r
				break
			}
		}
		rcv := []any{nil, nil, nil, nil, nil, nil}
		if rc != nil {
			rcv = []any{rc.ObjectID, rc.SHA256, rc.Size, ns(rc.StoredAt), rc.KeyID, rc.Signature}
		}
		row := []any{base.Serial, int64(base.Seq), last.Env.Dock, last.Env.ID, base.Start.UnixNano(), base.End.UnixNano(),
			sb.ClockOffsetMs, ns(sb.ClockSyncedAt), base.Start.Add(-off).UnixNano(), base.End.Add(-off).UnixNano(),
			base.Size, base.SHA256, computed, mismatch, lb.StopCause, lb.Officer, lb.CaseTag, lb.Media, lb.State,
			lb.Fault, follows}
		row = append(row, rcv...)
		row = append(row, claim(base), conflict, w.now, last.Env.Time.UnixNano(), w.now, timeSource(base))
		rows = append(rows, row)
		// The corrected span the upsert may store: within the bound.
		w.raiseSpan(base.Serial, true, base.Start.Add(-off).UnixNano(), base.End.Add(-off).UnixNano())
	}
	if err := w.s.multi(ctx, w.tx, "segments", segmentCols, segmentSet+
		newerSetIf("segments", "reported_ns", "excluded.claim = segments.claim", "dock", "msg_id", "stop_cause", "officer", "case_tag", "media", "state", "fault"),
		rows, nil); err != nil {
		return err
	}
	for _, k := range keys {
		for _, i := range groups[k] {
			if err := w.checkEcho(ctx, i); err != nil {
				return fmt.Errorf("echoed receipt: %w", err)
			}
		}
	}
	return nil
}

// checkEcho compares the receipt a dock echoed in manifest i with the
// collector's own receipts table, the only source of truth (DESIGN.md,
// "The collector believes its own records"). The echo is kept as the
// dock's claim and never counts; one the collector did not issue raises an
// echoed-receipt alert to the recorder's unit.
func (w *writer) checkEcho(ctx context.Context, i int) error {
	m := w.msgs[i]
	b := m.Body.(*wire.SegmentManifest)
	e := b.Receipt
	if e == nil {
		return nil
	}
	have, ok, err := w.s.receipt(ctx, w.tx, b.Serial, b.Seq)
	if err != nil {
		return err
	}
	var why string
	switch {
	case e.Device != b.Serial || e.Seq != b.Seq:
		why = fmt.Sprintf("the echoed receipt names %s/%d", e.Device, e.Seq)
	case !ok:
		why = "the collector issued no receipt for it"
	case have.ObjectID != e.ObjectID || have.SHA256 != e.SHA256 || have.Size != e.Size || have.Signature != e.Signature:
		why = fmt.Sprintf("the collector's receipt is object %s sha256 %s size %d", have.ObjectID, have.SHA256, have.Size)
	default:
		return nil
	}
	var unit string
	if err := w.tx.QueryRowContext(ctx, w.s.d.q(`SELECT COALESCE((SELECT unit FROM recorders WHERE serial = ?),
		(SELECT unit FROM docks WHERE id = ?), '')`), b.Serial, m.Env.Dock).Scan(&unit); err != nil {
		return err
	}
	if unit == "" {
		unit = "unassigned"
	}
	// Every text here passed check (clean UTF-8); %.80s bounds the dock's.
	detail := fmt.Sprintf("dock %s (message %.80s) echoed a receipt for %s/%d: object %.80s sha256 %.80s size %d; %s",
		m.Env.Dock, m.Env.ID, b.Serial, b.Seq, e.ObjectID, e.SHA256, e.Size, why)
	w.s.log.Warn("store: echoed receipt not issued by the collector", "dock", m.Env.Dock, "serial", b.Serial, "seq", b.Seq, "why", why)
	_, err = w.s.upsertAlertTx(ctx, w.tx, Alert{Key: fmt.Sprintf("%s/%s/%d/%s", KindEchoedReceipt, b.Serial, b.Seq, m.Env.Dock),
		Kind: KindEchoedReceipt, Severity: "critical", Unit: unit, Serial: b.Serial, Seq: b.Seq, Dock: m.Env.Dock,
		Title:  fmt.Sprintf("Recorder %s segment %d: dock %s reports a receipt the collector did not issue", b.Serial, b.Seq, m.Env.Dock),
		Detail: detail, At: time.Unix(0, w.now).UTC()}, "{}")
	return err
}
