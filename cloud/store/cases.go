package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// linkRoles may link footage to a case after the fact; auxiliary staff may
// not (rule 6: they never act as enforcement officers).
var linkRoles = map[string]bool{"officer": true, "supervisor": true, "admin": true}

// CaseLink ties a segment to a case (and the inspected party) after it was
// recorded. Links are appended, never edited; the segment's own reported
// case tag stays as the recorder reported it.
type CaseLink struct {
	Serial string
	Seq    uint64
	Case   string // case number
	Type   string // case type (retention policy: complaint, lawsuit, ...); may be empty
	Party  string // inspected party; may be empty
	By     Actor
	Reason string
	At     time.Time
}

// LinkCase records l after checking who links, why, and that the segment
// is known.
func (s *Store) LinkCase(ctx context.Context, l CaseLink) error {
	switch {
	case !linkRoles[l.By.Role]:
		return fmt.Errorf("%w: role %q may not link footage to a case", ErrNotPermitted, l.By.Role)
	case strings.TrimSpace(l.By.Name) == "" || strings.TrimSpace(l.Reason) == "" || strings.TrimSpace(l.Case) == "":
		return fmt.Errorf("%w: a case link names who, why and the case", ErrArgument)
	case len(l.Case) > 128 || len(l.Type) > 64 || len(l.Party) > 256 || len(l.Reason) > 4096 || l.Seq > math.MaxInt64:
		return fmt.Errorf("%w: case link field too long", ErrArgument)
	}
	if err := cleanText(l.Serial, l.Case, l.Type, l.Party, l.By.Name, l.By.Role, l.Reason); err != nil {
		return fmt.Errorf("%w: case link: %w", ErrArgument, err)
	}
	if l.At.IsZero() {
		l.At = s.clock.Now()
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, s.d.q(`SELECT 1 FROM segments WHERE serial = ? AND seq = ?`), l.Serial, int64(l.Seq)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: segment %s/%d", ErrNotFound, l.Serial, l.Seq)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.q(`INSERT INTO case_links (serial, seq, case_no, case_type, party, actor, role, reason, at_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), l.Serial, int64(l.Seq), l.Case, l.Type, l.Party, l.By.Name, l.By.Role, l.Reason, l.At.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: link case: %w", err)
	}
	return nil
}

// CaseQuery finds footage; zero fields match all. Case matches a
// segment's reported case tag or a link; Party matches a link; Unit is the
// segment's unit (see CaseHit.Unit); From and To bound the drift-corrected
// start.
type CaseQuery struct {
	Case, Party, Officer, Unit string
	Recorder                   string // the recorder's serial
	From, To                   time.Time
	// Units, if not nil, keeps only footage of these units (a
	// supervisor's scope), in the query itself; an empty list finds
	// nothing. nil is every unit (an admin, or an operator's CLI).
	Units []string
	// After continues a search after this hit (keyset pagination: the
	// last hit of the previous page); nil starts at the oldest.
	After *CaseCursor
	Limit int // default 1000
}

// CaseCursor is where a page of FindFootage ended: its last hit's start,
// serial and sequence, the order hits come in.
type CaseCursor struct {
	Start  time.Time
	Serial string
	Seq    uint64
}

// Cursor is the cursor that continues a search after h.
func (h CaseHit) Cursor() CaseCursor { return CaseCursor{Start: h.Start, Serial: h.Serial, Seq: h.Seq} }

// String encodes c for an API's "after" parameter (ParseCaseCursor reads
// it): start in Unix nanoseconds, sequence, serial.
func (c CaseCursor) String() string {
	return fmt.Sprintf("%d.%d.%s", c.Start.UnixNano(), c.Seq, c.Serial)
}

// ParseCaseCursor reads a CaseCursor.String.
func ParseCaseCursor(v string) (CaseCursor, error) {
	f := strings.SplitN(v, ".", 3)
	if len(f) != 3 || f[2] == "" || len(f[2]) > 128 || cleanText(f[2]) != nil {
		return CaseCursor{}, fmt.Errorf("%w: cursor %.80q", ErrArgument, v)
	}
	ns, err1 := strconv.ParseInt(f[0], 10, 64)
	seq, err2 := strconv.ParseUint(f[1], 10, 63)
	if err1 != nil || err2 != nil {
		return CaseCursor{}, fmt.Errorf("%w: cursor %.80q", ErrArgument, v)
	}
	return CaseCursor{Start: time.Unix(0, ns).UTC(), Serial: f[2], Seq: seq}, nil
}

// CaseHit is one segment found, with its links.
type CaseHit struct {
	Serial  string
	Seq     uint64
	Officer string
	// Unit is the footage's unit (segmentUnit): who may find, view and
	// export it. "" if it has none.
	Unit    string
	Start   time.Time
	End     time.Time
	CaseTag string // as the recorder reported it
	Object  string // the receipt's object (id@version on S3); "" if not yet in evidence
	Links   []CaseLink
}

// footageUnit is the SQL of the unit a segment's footage belongs to, NULL
// if none is known. It is the one judgement of whose footage a segment
// is: every query of it (FindFootage, Footage, LinkedFootage, AccessLog,
// ReceiptsOf, and SegmentsOf for the analysis engine's alerts about a
// segment and the console's day view) reads this, over the segment g,
// its receipt c, its recorder r, the dock cd whose upload the receipt was
// issued for and the dock d that reported the segment (footageDocks joins
// the two docks):
//
//   - the recorder's enrolled unit (DESIGN.md: the unit comes from
//     enrolment, never from a report);
//   - else, for a recorder enrolled nowhere (the default policy accepts
//     its footage from any dock), the unit of the receipt's uploading
//     dock: set by the first receipt and never changed, where the
//     reporting dock follows the newest manifest and any dock may report
//     one, so that a dock of another unit that reports the segment (it
//     need know only its hash, size and times) does not make the footage
//     its unit's; NULL if that dock is not in the registry;
//   - else (a receipt naming no dock, recorded before migration 0016, or
//     no receipt yet) the unit of the dock that reported the segment.
const footageUnit = `CASE WHEN r.unit <> '' THEN r.unit WHEN c.dock IS NOT NULL THEN cd.unit ELSE d.unit END`

// segmentUnit is footageUnit with "" for none (CaseHit.Unit).
const segmentUnit = `COALESCE(` + footageUnit + `, '')`

// footageDocks joins the docks footageUnit reads to a query over segments
// g and receipts c (either may be outer-joined).
const footageDocks = ` LEFT JOIN docks d ON d.id = g.dock LEFT JOIN docks cd ON cd.id = c.dock`

// footageFrom is the FROM clause of a query of segments g with what
// footageUnit reads.
const footageFrom = ` FROM segments g LEFT JOIN recorders r ON r.serial = g.serial
		LEFT JOIN receipts c ON c.device = g.serial AND c.seq = g.seq` + footageDocks

// hitCols selects a CaseHit for caseHits, from footageFrom.
const hitCols = `SELECT g.serial, g.seq, g.officer, ` + segmentUnit + `, g.corr_start_ns, g.corr_end_ns, g.case_tag,
		COALESCE(c.object_id, '')`

// inList appends to where a condition that expr is one of vs (false for
// none), and its arguments to args.
func inList(expr string, vs []string, where []string, args []any) ([]string, []any) {
	if len(vs) == 0 {
		return append(where, "1 = 0"), args
	}
	for _, v := range vs {
		args = append(args, v)
	}
	return append(where, expr+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ")+")"), args
}

// FindFootage answers a CaseQuery from the indexes, oldest first (by
// start, serial, sequence), at most Limit hits after q.After.
func (s *Store) FindFootage(ctx context.Context, q CaseQuery) ([]CaseHit, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	var where []string
	var args []any
	add := func(cond string, vs ...any) { where = append(where, cond); args = append(args, vs...) }
	if q.Case != "" {
		add(`(g.case_tag = ? OR EXISTS (SELECT 1 FROM case_links l WHERE l.serial = g.serial AND l.seq = g.seq AND l.case_no = ?))`, q.Case, q.Case)
	}
	if q.Party != "" {
		add(`EXISTS (SELECT 1 FROM case_links l WHERE l.serial = g.serial AND l.seq = g.seq AND l.party = ?)`, q.Party)
	}
	if q.Officer != "" {
		add(`g.officer = ?`, q.Officer)
	}
	if q.Recorder != "" {
		add(`g.serial = ?`, q.Recorder)
	}
	if q.Unit != "" {
		add(segmentUnit+` = ?`, q.Unit)
	}
	if q.Units != nil {
		where, args = inList(segmentUnit, q.Units, where, args)
	}
	if !q.From.IsZero() {
		add(`g.corr_start_ns >= ?`, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		add(`g.corr_start_ns < ?`, q.To.UnixNano())
	}
	if a := q.After; a != nil {
		if a.Seq > math.MaxInt64 {
			return nil, fmt.Errorf("%w: cursor seq %d", ErrArgument, a.Seq)
		}
		ns := a.Start.UnixNano()
		add(`(g.corr_start_ns > ? OR g.corr_start_ns = ? AND (g.serial > ? OR g.serial = ? AND g.seq > ?))`,
			ns, ns, a.Serial, a.Serial, int64(a.Seq))
	}
	query := hitCols + footageFrom
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.Limit)
	return s.caseHits(ctx, "find footage", query+` ORDER BY g.corr_start_ns, g.serial, g.seq LIMIT ?`, args...)
}

// Footage returns segment serial/seq with its unit (CaseHit.Unit), its
// receipt's object and its case links; false if there is no such
// segment. It is the console's one view of whose footage a segment is.
func (s *Store) Footage(ctx context.Context, serial string, seq uint64) (CaseHit, bool, error) {
	if seq > math.MaxInt64 {
		return CaseHit{}, false, nil
	}
	hits, err := s.caseHits(ctx, "footage", hitCols+footageFrom+` WHERE g.serial = ? AND g.seq = ?`, serial, int64(seq))
	if err != nil || len(hits) == 0 {
		return CaseHit{}, false, err
	}
	return hits[0], true, nil
}

// caseHits runs a query selecting a segment's serial, seq, officer, unit,
// corrected start and end, case tag and object id, and returns the hits
// with their case links; what names the query in errors.
func (s *Store) caseHits(ctx context.Context, what, query string, args ...any) ([]CaseHit, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	var out []CaseHit
	for rs.Next() {
		var h CaseHit
		var seq, start, end int64
		if err := rs.Scan(&h.Serial, &seq, &h.Officer, &h.Unit, &start, &end, &h.CaseTag, &h.Object); err != nil {
			rs.Close()
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		h.Seq, h.Start, h.End = uint64(seq), time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
		out = append(out, h)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	for i := range out {
		if out[i].Links, err = s.CaseLinks(ctx, out[i].Serial, out[i].Seq); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CaseLinks returns a segment's case links, oldest first.
func (s *Store) CaseLinks(ctx context.Context, serial string, seq uint64) ([]CaseLink, error) {
	if seq > math.MaxInt64 {
		return nil, nil
	}
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT case_no, case_type, party, actor, role, reason, at_ns FROM case_links
		WHERE serial = ? AND seq = ? ORDER BY id`), serial, int64(seq))
	if err != nil {
		return nil, fmt.Errorf("store: case links: %w", err)
	}
	defer rs.Close()
	var out []CaseLink
	for rs.Next() {
		l := CaseLink{Serial: serial, Seq: seq}
		var at int64
		if err := rs.Scan(&l.Case, &l.Type, &l.Party, &l.By.Name, &l.By.Role, &l.Reason, &at); err != nil {
			return nil, fmt.Errorf("store: case links: %w", err)
		}
		l.At = time.Unix(0, at).UTC()
		out = append(out, l)
	}
	return out, rs.Err()
}
