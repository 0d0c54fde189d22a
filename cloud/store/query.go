package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Segment is a recorder segment as the store knows it.
type Segment struct {
	Serial string
	Seq    uint64
	Dock   string    // the dock that reported it last
	Start  time.Time // device clock
	End    time.Time // device clock
	// ClockOffset (device minus dock) was measured at ClockSyncedAt, the
	// earliest docking that reported the segment; CorrectedStart/End are
	// Start/End minus that offset. The timeline refines this by
	// interpolating between syncs.
	ClockOffset    time.Duration
	ClockSyncedAt  time.Time
	CorrectedStart time.Time
	CorrectedEnd   time.Time
	Size           int64
	SHA256         string // the recorder's hash
	Computed       string // the dock's hash of what it copied; "" if not reported
	HashMismatch   bool   // some dock reported Computed != SHA256
	StopCause      string
	Officer        string
	CaseTag        string
	Media          string
	State          string // wire.SegBuffered ... as last reported
	Fault          string
	// FollowsInterruption is sticky: once reported, kept.
	FollowsInterruption bool
	// TimeSource is where Start and End come from: wire.TimeSourceDevice
	// (DockLink) or wire.TimeSourceFile (a legacy mass-storage recorder's
	// file names and container metadata: less trustworthy).
	TimeSource string
	// Receipt is the collector's recorded receipt (its receipts table is the
	// only source of truth: a receipt a dock echoes in a manifest never
	// counts); nil while not in the evidence store.
	Receipt *wire.Receipt
	// ReceivedAt is the receipt's StoredAt (zero without a receipt).
	ReceivedAt time.Time
	// Conflict is the claim (hash, size, times) of a later manifest that
	// disagreed with the stored one; "" if none. The stored claim is kept.
	Conflict   string
	FirstSeen  time.Time // collector time the segment was first committed
	UpdatedAt  time.Time // collector time of the last manifest or receipt for it
	ReportedAt time.Time // envelope time of the newest manifest applied
	// Unit is the footage's unit (footageUnit, as CaseHit.Unit): who may
	// see it, and where an alert about it goes. "" if it has none.
	Unit string
}

// Span is one recorder and the time range [From, To) read about it (a
// zero bound is open): the batch reads (SegmentsOf, InventoryOf, ...) take
// one per recorder, so a batch of recorders costs one statement per table.
type Span struct {
	Serial   string
	From, To time.Time
}

// spanRows are spans as the rows of withRows' w (serial TEXT, lo BIGINT,
// hi BIGINT); a serial named twice is an argument error (its rows would
// be read twice).
func spanRows(spans []Span) ([][]any, error) {
	rows := make([][]any, len(spans))
	seen := make(map[string]bool, len(spans))
	for i, sp := range spans {
		if seen[sp.Serial] {
			return nil, fmt.Errorf("%w: recorder %q named twice", ErrArgument, sp.Serial)
		}
		seen[sp.Serial] = true
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if !sp.From.IsZero() && timeOK(sp.From) {
			lo = sp.From.UnixNano()
		}
		if !sp.To.IsZero() && timeOK(sp.To) {
			hi = sp.To.UnixNano()
		}
		rows[i] = []any{sp.Serial, lo, hi}
	}
	return rows, nil
}

const spanCols = `serial TEXT, lo BIGINT, hi BIGINT`

// serialRows are serials as the rows of withRows' w (serial TEXT); a
// serial named twice is an argument error.
func serialRows(serials []string) ([][]any, error) {
	rows := make([][]any, len(serials))
	seen := make(map[string]bool, len(serials))
	for i, sn := range serials {
		if seen[sn] {
			return nil, fmt.Errorf("%w: recorder %q named twice", ErrArgument, sn)
		}
		seen[sn] = true
		rows[i] = []any{sn}
	}
	return rows, nil
}

// Segments lists serial's segments whose corrected span overlaps [from, to)
// (a zero bound is open), ordered by corrected start, then seq.
func (s *Store) Segments(ctx context.Context, serial string, from, to time.Time) ([]Segment, error) {
	m, err := s.SegmentsOf(ctx, []Span{{serial, from, to}})
	return m[serial], err
}

// segmentsOfSQL reads the segments overlapping each span of w: the index
// range [lo - the recorder's longest span, hi) of segments_by_time, not
// its whole history before hi (spans.go), per recorder (perRow); each
// with its receipt and its footage's unit (segmentUnit: the joins are
// footageFrom's, each a primary-key probe per segment).
func (d dialect) segmentsOfSQL() string {
	return `, b (serial, lo, hi, floor_ns) AS (SELECT w.serial, w.lo, w.hi, ` + spanFloor("w.lo", "p.segment_ns") + `
		FROM w LEFT JOIN recorder_spans p ON p.serial = w.serial)
	SELECT g.serial, g.seq, g.dock, g.start_ns, g.end_ns, g.clock_offset_ms,
		g.clock_synced_ns, g.corr_start_ns, g.corr_end_ns, g.size, g.sha256, g.computed, g.hash_mismatch, g.stop_cause,
		g.officer, g.case_tag, g.media, g.state, g.fault, g.follows_interruption,
		c.object_id, c.sha256, c.size, c.stored_ns, c.key_id, c.signature,
		g.conflict_claim, g.first_seen_ns, g.reported_ns, g.updated_ns, g.time_source, ` + segmentUnit + `
		FROM b ` + d.perRow("segments", "g",
		`g.serial = b.serial AND g.corr_start_ns >= b.floor_ns AND g.corr_start_ns < b.hi AND g.corr_end_ns >= b.lo`) + `
		LEFT JOIN recorders r ON r.serial = g.serial
		LEFT JOIN receipts c ON c.device = g.serial AND c.seq = g.seq` + footageDocks + `
		ORDER BY g.serial, g.corr_start_ns, g.seq`
}

// SegmentsOf is Segments for each span's recorder, in one statement: the
// segments by serial.
func (s *Store) SegmentsOf(ctx context.Context, spans []Span) (map[string][]Segment, error) {
	rows, err := spanRows(spans)
	if err != nil {
		return nil, fmt.Errorf("store: segments: %w", err)
	}
	out := make(map[string][]Segment, len(spans))
	err = s.withRows(ctx, spanCols, rows, s.d.segmentsOfSQL(), nil, func(rs *sql.Rows) error {
		var g Segment
		var seq, st, en, off, cs, ce, first, rep, upd int64
		var synced, rsize, rstored sql.NullInt64
		var robj, rsha, rkey, rsig, conflict sql.NullString
		if err := rs.Scan(&g.Serial, &seq, &g.Dock, &st, &en, &off, &synced, &cs, &ce, &g.Size, &g.SHA256, &g.Computed,
			&g.HashMismatch, &g.StopCause, &g.Officer, &g.CaseTag, &g.Media, &g.State, &g.Fault, &g.FollowsInterruption,
			&robj, &rsha, &rsize, &rstored, &rkey, &rsig, &conflict, &first, &rep, &upd, &g.TimeSource, &g.Unit); err != nil {
			return err
		}
		g.Seq = uint64(seq)
		g.Start, g.End = time.Unix(0, st).UTC(), time.Unix(0, en).UTC()
		g.ClockOffset, g.ClockSyncedAt = time.Duration(off)*time.Millisecond, fromNS(synced)
		g.CorrectedStart, g.CorrectedEnd = time.Unix(0, cs).UTC(), time.Unix(0, ce).UTC()
		if robj.Valid {
			g.Receipt = &wire.Receipt{ObjectID: robj.String, Device: g.Serial, Seq: g.Seq, SHA256: rsha.String,
				Size: rsize.Int64, StoredAt: fromNS(rstored), KeyID: rkey.String, Signature: rsig.String}
			g.ReceivedAt = g.Receipt.StoredAt
		}
		g.Conflict = conflict.String
		g.FirstSeen, g.ReportedAt, g.UpdatedAt = time.Unix(0, first).UTC(), time.Unix(0, rep).UTC(), time.Unix(0, upd).UTC()
		out[g.Serial] = append(out[g.Serial], g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: segments: %w", err)
	}
	return out, nil
}

// SegmentSerialsSince lists the recorders with a segment manifest committed
// (new, changed or re-reported) or a receipt recorded at or after since, by
// the collector's clock:
// the timeline re-analyses just those after each round of ingest.
func (s *Store) SegmentSerialsSince(ctx context.Context, since time.Time) ([]string, error) {
	lo := int64(math.MinInt64)
	if !since.IsZero() && timeOK(since) {
		lo = since.UnixNano()
	}
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT DISTINCT serial FROM segments WHERE updated_ns >= ? ORDER BY serial`), lo)
	if err != nil {
		return nil, fmt.Errorf("store: segment serials: %w", err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var sn string
		if err := rs.Scan(&sn); err != nil {
			return nil, fmt.Errorf("store: segment serials: %w", err)
		}
		out = append(out, sn)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: segment serials: %w", err)
	}
	return out, nil
}

// Device is a recorder with its latest health snapshot.
type Device struct {
	Serial       string
	Model        string
	Firmware     string
	Officer      string
	Unit         string
	LastDock     string
	LastDockedAt time.Time
	Health       wire.DeviceHealth // the snapshot of the last docking
}

// deviceCols selects a recorder with the unit Devices gives it.
const deviceCols = `SELECT d.serial, d.model, d.firmware, d.officer,
		COALESCE(r.unit, NULLIF(k.unit, ''), d.unit) AS u, d.last_dock, d.last_docked_ns, d.health
		FROM devices d LEFT JOIN recorders r ON r.serial = d.serial LEFT JOIN docks k ON k.id = d.last_dock`

// Devices lists every recorder seen, by serial. Unit comes from enrolment
// (DESIGN.md: the unit of a finding never comes from a report): the
// recorder's enrolled unit, else that of the dock that last docked it;
// the unit a report named only when neither is enrolled with a unit.
func (s *Store) Devices(ctx context.Context) ([]Device, error) {
	return s.DevicesIn(ctx, nil)
}

// DevicesIn is Devices limited to the recorders of units (nil: all; an
// empty list: none), by the same unit Devices gives each.
func (s *Store) DevicesIn(ctx context.Context, units []string) ([]Device, error) {
	if units != nil && len(units) == 0 {
		return nil, nil
	}
	q, args := devicesWhere(units)
	return s.devices(ctx, q, args)
}

// devicesWhere is deviceCols with the WHERE clause that limits it to
// units (nil: none).
func devicesWhere(units []string) (string, []any) {
	q := deviceCols
	var args []any
	if units != nil {
		// The candidates come from three indexed lookups (enrolled to
		// the units, last docked in their docks, reported in them), then
		// the unit Devices gives each decides: no scan of the fleet.
		in := `(?` + strings.Repeat(", ?", len(units)-1) + `)`
		q += ` WHERE d.serial IN (SELECT serial FROM recorders WHERE unit IN ` + in + `
			UNION SELECT serial FROM devices WHERE last_dock IN (SELECT id FROM docks WHERE unit IN ` + in + `)
			UNION SELECT serial FROM devices WHERE unit IN ` + in + `)
			AND COALESCE(r.unit, NULLIF(k.unit, ''), d.unit) IN ` + in
		for range 4 {
			for _, u := range units {
				args = append(args, u)
			}
		}
	}
	return q, args
}

// devices reads the recorders of q (deviceCols and a WHERE clause) by
// serial.
func (s *Store) devices(ctx context.Context, q string, args []any) ([]Device, error) {
	return s.devicesQ(ctx, q+` ORDER BY d.serial`, args)
}

// devicesQ reads the recorders of a whole query (deviceCols, WHERE, ORDER
// BY and any LIMIT).
func (s *Store) devicesQ(ctx context.Context, q string, args []any) ([]Device, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: devices: %w", err)
	}
	defer rs.Close()
	var out []Device
	for rs.Next() {
		var d Device
		var at int64
		var h string
		if err := rs.Scan(&d.Serial, &d.Model, &d.Firmware, &d.Officer, &d.Unit, &d.LastDock, &at, &h); err != nil {
			return nil, fmt.Errorf("store: devices: %w", err)
		}
		d.LastDockedAt = time.Unix(0, at).UTC()
		if err := json.Unmarshal([]byte(h), &d.Health); err != nil {
			return nil, fmt.Errorf("store: device %s health: %w", d.Serial, err)
		}
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: devices: %w", err)
	}
	return out, nil
}

// HealthRecord is one docking's health snapshot of a recorder.
type HealthRecord struct {
	Dock   string
	Health wire.DeviceHealth
}

// DeviceHealth lists serial's health snapshots by docking time within
// [from, to) (zero bounds are open): the history custodians review, and the
// clock syncs (DockClock, ClockOffsetMs, ClockSet) the timeline
// interpolates between.
func (s *Store) DeviceHealth(ctx context.Context, serial string, from, to time.Time) ([]HealthRecord, error) {
	m, err := s.DeviceHealthOf(ctx, []Span{{serial, from, to}})
	return m[serial], err
}

// DeviceHealthOf is DeviceHealth for each span's recorder, in one
// statement: the snapshots by serial.
func (s *Store) DeviceHealthOf(ctx context.Context, spans []Span) (map[string][]HealthRecord, error) {
	rows, err := spanRows(spans)
	if err != nil {
		return nil, fmt.Errorf("store: device health: %w", err)
	}
	out := make(map[string][]HealthRecord, len(spans))
	err = s.withRows(ctx, spanCols, rows, `SELECT h.serial, h.dock, h.body FROM w `+
		s.d.perRow("device_health", "h", `h.serial = w.serial AND h.docked_ns >= w.lo AND h.docked_ns < w.hi`)+`
		ORDER BY h.serial, h.docked_ns, h.dock`, nil,
		func(rs *sql.Rows) error {
			var h HealthRecord
			var serial, body string
			if err := rs.Scan(&serial, &h.Dock, &body); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(body), &h.Health); err != nil {
				return fmt.Errorf("device health body: %w", err)
			}
			out[serial] = append(out[serial], h)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("store: device health: %w", err)
	}
	return out, nil
}
