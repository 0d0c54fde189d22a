package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berthdock/berth/cloud/wire"
)

// Incoming is one decoded message for Commit: the envelope and its body as
// wire.DecodeBody returns it (a pointer: *wire.DockState, ...).
type Incoming struct {
	Env  wire.Envelope
	Body wire.Body
}

// InvalidError reports the message of a batch that Commit refused; nothing
// of the batch was written. It matches ErrInvalid with errors.Is.
type InvalidError struct {
	Index int // into the batch
	Err   error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("store: invalid message %d: %v", e.Index, e.Err)
}

func (e *InvalidError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// maxOffsetMs bounds a clock offset to ±10 years, far beyond any real drift,
// so corrected times cannot overflow.
const maxOffsetMs = 10 * 365 * 24 * 3600 * 1000

// check refuses what the schema cannot hold faithfully, before anything is
// written.
func check(m Incoming) error {
	e := m.Env
	if err := wire.ValidID(e.Dock); err != nil {
		return fmt.Errorf("dock: %w", err)
	}
	if e.ID == "" || len(e.ID) > 128 {
		return fmt.Errorf("message id length %d", len(e.ID))
	}
	if e.Time.IsZero() || !timeOK(e.Time) {
		return fmt.Errorf("envelope time %s", e.Time)
	}
	if m.Body == nil {
		return fmt.Errorf("%s: no body", e.Type)
	}
	if err := cleanText(e.ID); err != nil {
		return fmt.Errorf("message id: %w", err)
	}
	want := ""
	var times []time.Time
	var texts []string
	switch b := m.Body.(type) {
	case *wire.DockState:
		want = wire.TypeDockState
		texts = append(texts, b.State, b.Version)
		times = append(times, b.OldestBacklog)
	case *wire.SlotState:
		want = wire.TypeSlotState
		texts = append(texts, b.State, b.Serial, b.Fault, b.Detail)
	case *wire.DeviceHealth:
		want = wire.TypeDeviceHealth
		if math.IsNaN(b.Battery.TemperatureC) || math.IsInf(b.Battery.TemperatureC, 0) {
			return fmt.Errorf("battery temperature %v", b.Battery.TemperatureC)
		}
		times = append(times, b.DockedAt, b.DeviceClock, b.DockClock)
		texts = append(texts, b.Serial, b.Model, b.Firmware, b.Officer, b.Unit)
	case *wire.SegmentManifest:
		want = wire.TypeSegmentManifest
		if b.Seq > math.MaxInt64 {
			return fmt.Errorf("seq %d out of range", b.Seq)
		}
		if b.ClockOffsetMs > maxOffsetMs || b.ClockOffsetMs < -maxOffsetMs {
			return fmt.Errorf("clock offset %d ms out of range", b.ClockOffsetMs)
		}
		off := time.Duration(b.ClockOffsetMs) * time.Millisecond
		times = append(times, b.Start, b.End, b.ClockSyncedAt, b.Start.Add(-off), b.End.Add(-off))
		texts = append(texts, b.Serial, b.SHA256, b.Computed, b.StopCause, b.Officer, b.CaseTag, b.Media, b.State, b.Fault)
		if r := b.Receipt; r != nil {
			times = append(times, r.StoredAt)
			texts = append(texts, r.ObjectID, r.Device, r.SHA256, r.KeyID, r.Signature)
		}
	case *wire.AuditRecord:
		want = wire.TypeAuditRecord
		if b.Index > math.MaxInt64 || b.Seq > math.MaxInt64 {
			return fmt.Errorf("audit index %d or seq %d out of range", b.Index, b.Seq)
		}
		times = append(times, b.Time)
		texts = append(texts, b.Action, b.Serial, b.Detail, b.Prev, b.Hash)
	case *wire.Ack:
		want = wire.TypeAck
		texts = append(texts, b.IDs...)
	case *wire.Command:
		want = wire.TypeCommand
		texts = append(texts, b.Action, b.By)
	case *wire.Docking:
		want = wire.TypeDocking
		if b.LastSeq > math.MaxInt64 {
			return fmt.Errorf("last seq %d out of range", b.LastSeq)
		}
		texts = append(texts, b.Serial, b.Phase)
		times = append(times, b.DockedAt)
		for _, g := range b.Segments {
			texts = append(texts, g.SHA256, g.StopCause)
			times = append(times, g.Start, g.End)
		}
	case *wire.FirmwareProgress:
		want = wire.TypeFirmware
		texts = append(texts, b.Campaign, b.Serial, b.Model, b.Version, b.Running, b.State, b.Detail)
		times = append(times, b.At)
	case *wire.Checkout:
		want = wire.TypeCheckout
		texts = append(texts, b.Serial, b.Officer)
		times = append(times, b.At)
	case *wire.RecorderEvents:
		want = wire.TypeRecorderEvents
		texts = append(texts, b.Serial)
		times = append(times, b.DockedAt)
		for _, ev := range b.Events {
			if ev.Index > math.MaxInt64 || ev.Seq > math.MaxInt64 {
				return fmt.Errorf("event index %d or seq %d out of range", ev.Index, ev.Seq)
			}
			texts = append(texts, ev.Kind, ev.Detail)
			times = append(times, ev.Time)
		}
	default:
		return fmt.Errorf("body type %T", m.Body)
	}
	if e.Type != want {
		return fmt.Errorf("envelope type %q carries a %s body", e.Type, want)
	}
	if err := m.Body.Validate(); err != nil {
		return err
	}
	if err := cleanText(texts...); err != nil {
		return err
	}
	for _, t := range times {
		if !timeOK(t) {
			return fmt.Errorf("time %s out of range", t)
		}
	}
	return nil
}

// cleanText refuses strings a TEXT column cannot hold on both engines:
// invalid UTF-8 and NUL bytes (PostgreSQL rejects both). Everything else,
// quotes and SQL included, is bound as data.
func cleanText(ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w: text %q is not NUL-free UTF-8", ErrInvalid, s)
		}
	}
	return nil
}

// Commit writes the messages in one transaction; a message whose (dock, id)
// was committed before is skipped; dup[i] reports that. A (dock, id)
// repeated within the batch is written once and reported as a duplicate at
// its later positions. An invalid message fails the whole batch with an
// *InvalidError naming it, before anything is written; transient conflicts
// are retried inside.
func (s *Store) Commit(ctx context.Context, msgs []Incoming) (dup []bool, err error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	for i, m := range msgs {
		if err := check(m); err != nil {
			return nil, &InvalidError{Index: i, Err: err}
		}
	}
	var refused map[string]int
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		dup, refused, err = s.commitTx(ctx, tx, msgs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: commit %d messages: %w", len(msgs), err)
	}
	s.refusals.add(refused) // counted once committed, not per attempt
	return dup, nil
}

type msgKey struct{ dock, id string }

// commitTx writes the batch. Locks are taken in one global order — message
// keys, then new dock ids, slots, devices, segments, inventory, the
// recorders' span bounds (recorder_spans), their event logs' advisory
// locks (firstReads), ..., then the dock rows
// (each step in sorted key order) — so concurrent Commits on PostgreSQL
// cannot deadlock. Each dock's row lock serialises its audit chain
// verification; it is taken last so that it is held briefly: every batch
// touches many docks, and concurrent batches queue on those rows. The
// recorders' analysis work marks (sorted) come just before the dock rows.
func (s *Store) commitTx(ctx context.Context, tx *sql.Tx, msgs []Incoming) ([]bool, map[string]int, error) {
	now := s.clock.Now().UnixNano()
	dup := make([]bool, len(msgs))
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(msgs[a].Env.Dock, msgs[b].Env.Dock), cmp.Compare(msgs[a].Env.ID, msgs[b].Env.ID))
	})
	first := make(map[msgKey]int, len(msgs))
	rows := make([][]any, 0, len(msgs))
	for _, i := range order {
		e := msgs[i].Env
		k := msgKey{e.Dock, e.ID}
		if _, seen := first[k]; seen {
			dup[i] = true
			continue
		}
		first[k] = i
		rows = append(rows, []any{e.Dock, e.ID, e.Type, e.Time.UnixNano(), now})
	}
	inserted := make(map[msgKey]bool, len(rows))
	err := s.multi(ctx, tx, "messages", `dock TEXT, id TEXT, type TEXT, sent_ns BIGINT, committed_ns BIGINT`,
		`ON CONFLICT (dock, id) DO NOTHING RETURNING dock, id`, rows, func(r *sql.Rows) error {
			var k msgKey
			if err := r.Scan(&k.dock, &k.id); err != nil {
				return err
			}
			inserted[k] = true
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("messages: %w", err)
	}
	var fresh []int
	for k, i := range first {
		if !inserted[k] {
			dup[i] = true
		}
	}
	for i := range msgs {
		if !dup[i] {
			fresh = append(fresh, i)
		}
	}
	if len(fresh) == 0 {
		return dup, nil, nil
	}
	w := writer{s: s, tx: tx, msgs: msgs, fresh: fresh, now: now}
	if err := w.proofs(ctx); err != nil {
		return nil, nil, fmt.Errorf("proofs: %w", err)
	}
	if err := w.screen(ctx); err != nil {
		return nil, nil, fmt.Errorf("screen: %w", err)
	}
	for _, step := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"dock ids", w.dockIDs}, {"slots", w.slots}, {"devices", w.devices}, {"segments", w.segments}, {"dockings", w.dockings}, {"spans", w.spanBounds}, {"events", w.events}, {"checkouts", w.checkouts},
		{"commands", w.commands}, {"analysis work", w.markWork}, {"docks", w.docks}, {"audit", w.audit}, {"firmware", w.firmware},
	} {
		if err := step.fn(ctx); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", step.name, err)
		}
	}
	return dup, w.refused, nil
}

// writer applies the fresh messages of one batch, one table at a time.
type writer struct {
	s     *Store
	tx    *sql.Tx
	msgs  []Incoming
	fresh []int // indexes of messages not committed before and allowed (screen), in batch order
	now   int64
	// enrolledUnit is the enrolled unit of the batch's enrolled recorders
	// (set by screen): a recorder's unit comes from enrolment, never from
	// a report.
	enrolledUnit map[string]string
	// refused counts the reports screen refused, by alert kind.
	refused map[string]int
	// proven is, for the batch's "authenticated" audit records whose proof
	// verified (proofs), by message index, the enrolled key it verified
	// with and the proof's time.
	proven map[int]provenProof
	// spans are the longest spans the batch writes, by recorder
	// (raiseSpan): the spans step raises recorder_spans to them.
	spans map[string]*spanMax
}

// newer reports whether message a supersedes b: later envelope time, then
// later in the batch.
func (w *writer) newer(a, b int) bool {
	ta, tb := w.msgs[a].Env.Time, w.msgs[b].Env.Time
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a > b
}

// latest keeps, per key, the newest message for which key returns ok.
func latest[K cmp.Ordered](w *writer, key func(Incoming) (K, bool)) ([]K, map[K]int) {
	pick := map[K]int{}
	for _, i := range w.fresh {
		k, ok := key(w.msgs[i])
		if !ok {
			continue
		}
		if j, seen := pick[k]; !seen || w.newer(i, j) {
			pick[k] = i
		}
	}
	keys := make([]K, 0, len(pick))
	for k := range pick {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, pick
}

// dockIDs makes sure every dock of the batch has a row (slots and audit
// records reference it) without locking existing rows: ON CONFLICT DO
// NOTHING takes no row lock.
func (w *writer) dockIDs(ctx context.Context) error {
	rows := make([][]any, 0, 16)
	for _, id := range w.dockList() {
		rows = append(rows, []any{id})
	}
	return w.s.multi(ctx, w.tx, "docks", `id TEXT`, `ON CONFLICT (id) DO NOTHING`, rows, nil)
}

// dockList is the batch's fresh messages' docks, sorted.
func (w *writer) dockList() []string {
	seen := map[string]bool{}
	var ids []string
	for _, i := range w.fresh {
		if d := w.msgs[i].Env.Dock; !seen[d] {
			seen[d] = true
			ids = append(ids, d)
		}
	}
	slices.Sort(ids)
	return ids
}

// docks updates every dock row of the batch (last seen, newest state); the
// update takes the row locks the audit step relies on.
func (w *writer) docks(ctx context.Context) error {
	ids := w.dockList()
	_, states := latest(w, func(m Incoming) (string, bool) {
		_, ok := m.Body.(*wire.DockState)
		return m.Env.Dock, ok
	})
	rows := make([][]any, 0, len(ids))
	for _, id := range ids {
		r := []any{id, w.now, "", "", 0, int64(0), int64(0), 0, int64(0), nil, nil}
		if i, ok := states[id]; ok {
			b := w.msgs[i].Body.(*wire.DockState)
			at := w.msgs[i].Env.Time.UnixNano()
			if b.State == wire.DockOffline {
				// An offline state is usually the dock's MQTT last will,
				// written when it connected and delivered by the broker
				// only when the connection died: its envelope time is the
				// connect time, older than the online reports that followed.
				// It counts from when it arrived, so it wins over those but
				// not over the online state the dock sends on reconnecting.
				at = max(at, w.now)
			}
			r = []any{id, w.now, b.State, b.Version, b.Slots, b.BufferBytes, b.BufferCapacity, b.BacklogSegments,
				b.BacklogBytes, ns(b.OldestBacklog), at}
		}
		rows = append(rows, r)
	}
	return w.s.multi(ctx, w.tx, "docks", `id TEXT, last_seen_ns BIGINT, state TEXT, version TEXT, slot_count BIGINT,
		buffer_bytes BIGINT, buffer_capacity BIGINT, backlog_segments BIGINT, backlog_bytes BIGINT, oldest_backlog_ns BIGINT,
		state_ns BIGINT`,
		`ON CONFLICT (id) DO UPDATE SET
		last_seen_ns = CASE WHEN docks.last_seen_ns IS NULL OR excluded.last_seen_ns > docks.last_seen_ns
			THEN excluded.last_seen_ns ELSE docks.last_seen_ns END,
		`+newerSet("docks", "state_ns", "state", "version", "slot_count", "buffer_bytes", "buffer_capacity",
			"backlog_segments", "backlog_bytes", "oldest_backlog_ns"), rows, nil)
}

func (w *writer) slots(ctx context.Context) error {
	_, pick := latest(w, func(m Incoming) (string, bool) {
		b, ok := m.Body.(*wire.SlotState)
		if !ok {
			return "", false
		}
		return fmt.Sprintf("%s\x00%05d", m.Env.Dock, b.Slot), true
	})
	keys := make([]string, 0, len(pick))
	for k := range pick {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rows := make([][]any, 0, len(keys))
	for _, k := range keys {
		i := pick[k]
		b := w.msgs[i].Body.(*wire.SlotState)
		rows = append(rows, []any{w.msgs[i].Env.Dock, b.Slot, b.State, b.Serial, b.Fault, b.Detail, b.Segments, b.Copied,
			b.Uploaded, b.Released, b.BytesTotal, b.BytesCopied, b.Charging, w.msgs[i].Env.Time.UnixNano()})
	}
	return w.s.multi(ctx, w.tx, "slots", `dock TEXT, slot BIGINT, state TEXT, serial TEXT, fault TEXT, detail TEXT,
		segments BIGINT, copied BIGINT, uploaded BIGINT, released BIGINT, bytes_total BIGINT, bytes_copied BIGINT,
		charging BOOLEAN, updated_ns BIGINT`,
		`ON CONFLICT (dock, slot) DO UPDATE SET `+newerSet("slots", "updated_ns", "state", "serial", "fault", "detail",
			"segments", "copied", "uploaded", "released", "bytes_total", "bytes_copied", "charging"), rows, nil)
}

func (w *writer) devices(ctx context.Context) error {
	// History: one row per (serial, docking, dock); a redelivery after the
	// message ids were pruned is still a no-op.
	type hkey struct {
		serial string
		at     int64
		dock   string
	}
	seen := map[hkey]bool{}
	var hist [][]any
	for _, i := range w.fresh {
		b, ok := w.msgs[i].Body.(*wire.DeviceHealth)
		if !ok {
			continue
		}
		k := hkey{b.Serial, b.DockedAt.UnixNano(), w.msgs[i].Env.Dock}
		if seen[k] {
			continue
		}
		seen[k] = true
		body, err := json.Marshal(b)
		if err != nil {
			return err
		}
		hist = append(hist, []any{b.Serial, k.at, k.dock, b.Slot, w.msgs[i].Env.ID, b.Firmware, b.Officer,
			int64(b.Battery.MilliVolts), b.Battery.Percent, b.Battery.HealthPct, int64(b.Battery.Cycles),
			b.Battery.TemperatureC, b.Storage.TotalBytes, b.Storage.FreeBytes, b.Storage.HealthPct,
			b.Storage.ReadErrors + b.Storage.WriteErrors, b.Storage.BadBlocks, ns(b.DeviceClock),
			b.DockClock.UnixNano(), b.ClockOffsetMs, b.ClockSet, string(body)})
	}
	slices.SortFunc(hist, func(a, b []any) int {
		return cmp.Or(cmp.Compare(a[0].(string), b[0].(string)), cmp.Compare(a[1].(int64), b[1].(int64)),
			cmp.Compare(a[2].(string), b[2].(string)))
	})
	if err := w.s.multi(ctx, w.tx, "device_health", `serial TEXT, docked_ns BIGINT, dock TEXT, slot BIGINT,
		msg_id TEXT, firmware TEXT, officer TEXT, battery_mv BIGINT, battery_pct BIGINT, battery_health_pct BIGINT,
		battery_cycles BIGINT, battery_temp_c DOUBLE PRECISION, storage_total BIGINT, storage_free BIGINT,
		storage_health_pct BIGINT, storage_errors BIGINT, bad_blocks BIGINT, device_clock_ns BIGINT,
		dock_clock_ns BIGINT, clock_offset_ms BIGINT, clock_set BOOLEAN, body TEXT`,
		`ON CONFLICT (serial, docked_ns, dock) DO NOTHING`, hist, nil); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	// Latest snapshot per device, by docking time.
	pick := map[string]int{}
	for _, i := range w.fresh {
		b, ok := w.msgs[i].Body.(*wire.DeviceHealth)
		if !ok {
			continue
		}
		if j, seen := pick[b.Serial]; !seen || !b.DockedAt.Before(w.msgs[j].Body.(*wire.DeviceHealth).DockedAt) {
			pick[b.Serial] = i
		}
	}
	serials := make([]string, 0, len(pick))
	for k := range pick {
		serials = append(serials, k)
	}
	slices.Sort(serials)
	kept, err := w.measuredCapacities(ctx, serials, pick)
	if err != nil {
		return fmt.Errorf("measured capacities: %w", err)
	}
	rows := make([][]any, 0, len(serials))
	for _, sn := range serials {
		i := pick[sn]
		b := w.msgs[i].Body.(*wire.DeviceHealth)
		if b.Battery.Measured == nil && kept[sn] != nil {
			c := *b
			c.Battery.Measured = kept[sn]
			b = &c
		}
		body, err := json.Marshal(b)
		if err != nil {
			return err
		}
		unit := b.Unit
		if u, ok := w.enrolledUnit[b.Serial]; ok {
			unit = u
		}
		rows = append(rows, []any{b.Serial, b.Model, b.Firmware, b.Officer, unit, w.msgs[i].Env.Dock,
			b.DockedAt.UnixNano(), string(body)})
	}
	return w.s.multi(ctx, w.tx, "devices", `serial TEXT, model TEXT, firmware TEXT, officer TEXT, unit TEXT,
		last_dock TEXT, last_docked_ns BIGINT, health TEXT`,
		`ON CONFLICT (serial) DO UPDATE SET `+newerSet("devices", "last_docked_ns", "model", "firmware", "officer", "unit",
			"last_dock", "health"), rows, nil)
}

// measuredCapacities returns, for the recorders among serials whose new
// snapshot carries no measured capacity, the one their latest snapshot
// holds. A dock measures a battery only over a full charge, so most
// snapshots have none; the measurement stays with the recorder, across
// dockings and docks, until a newer one replaces it.
func (w *writer) measuredCapacities(ctx context.Context, serials []string, pick map[string]int) (map[string]*wire.MeasuredCapacity, error) {
	var need []string
	for _, sn := range serials {
		if w.msgs[pick[sn]].Body.(*wire.DeviceHealth).Battery.Measured == nil {
			need = append(need, sn)
		}
	}
	out := map[string]*wire.MeasuredCapacity{}
	err := w.chunked(ctx, `SELECT serial, health FROM devices WHERE serial IN (%s)`, need, nil, func(rs *sql.Rows) error {
		var sn, body string
		if err := rs.Scan(&sn, &body); err != nil {
			return err
		}
		var h wire.DeviceHealth
		if json.Unmarshal([]byte(body), &h) == nil && h.Battery.Measured != nil {
			out[sn] = h.Battery.Measured
		}
		return nil
	})
	return out, err
}

func (w *writer) commands(ctx context.Context) error {
	var cmds, acks [][]any
	for _, i := range w.fresh {
		e := w.msgs[i].Env
		switch b := w.msgs[i].Body.(type) {
		case *wire.Command:
			cmds = append(cmds, []any{e.Dock, e.ID, b.Action, b.Slot, b.By, e.Time.UnixNano()})
		case *wire.Ack:
			ids, err := json.Marshal(b.IDs)
			if err != nil {
				return err
			}
			acks = append(acks, []any{e.Dock, e.ID, string(ids), e.Time.UnixNano()})
		}
	}
	if err := w.s.multi(ctx, w.tx, "commands", `dock TEXT, msg_id TEXT, action TEXT, slot BIGINT, by_user TEXT,
		issued_ns BIGINT`,
		`ON CONFLICT (dock, msg_id) DO NOTHING`, cmds, nil); err != nil {
		return err
	}
	return w.s.multi(ctx, w.tx, "acks", `dock TEXT, msg_id TEXT, ids TEXT, sent_ns BIGINT`,
		`ON CONFLICT (dock, msg_id) DO NOTHING`, acks, nil)
}

// PruneMessages forgets the ids of messages committed before t, bounding
// the messages table. Every table's write is idempotent by its own key, so a
// redelivery after pruning rewrites nothing of substance; keep t well beyond
// how long a dock may stay offline (days).
func (s *Store) PruneMessages(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM messages WHERE committed_ns < ?`), before.UnixNano())
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune messages: %w", err)
	}
	return n, nil
}
