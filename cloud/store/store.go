package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jonboulle/clockwork"
	_ "modernc.org/sqlite" // registers database/sql driver "sqlite"
)

// Errors of the store, wrapped with %w and context.
var (
	ErrDSN       = errors.New("store: bad dsn")
	ErrInvalid   = errors.New("store: invalid message")
	ErrNotFound  = errors.New("store: not found")
	ErrState     = errors.New("store: invalid state transition")
	ErrConflict  = errors.New("store: conflicting record")
	ErrArgument  = errors.New("store: invalid argument")
	ErrMigration = errors.New("store: migration failed")
)

// Opts tunes Open; a nil *Opts means DefaultOpts.
type Opts struct {
	Logger *slog.Logger    // nil: slog.Default()
	Clock  clockwork.Clock // stamps records; nil: the real clock
	// MaxConns bounds the connection pool (PostgreSQL default 8; SQLite
	// default 4 readers, writes are serialised in-process anyway).
	MaxConns int
	// Schema, for PostgreSQL, is set as search_path on every pooled
	// connection (the schema must exist). Empty: the server's default.
	Schema string
	// BusyTimeout is how long SQLite waits for another process's write lock.
	BusyTimeout time.Duration
	// Recorders is which recorders a dock may upload and report for
	// (RecordersProtected by default; see RecorderPolicy).
	Recorders RecorderPolicy
	// ReportSkew is how far ahead of the collector's clock a report's
	// times may be (docking time of a health report); default
	// DefaultReportSkew. Later reports are kept as history but change
	// nothing, and raise an alert.
	ReportSkew time.Duration
	// BeforeEnrolment is how long before an enrolled recorder's enrolment
	// a health report on it may be dated (default DefaultBeforeEnrolment);
	// earlier ones are refused like those beyond ReportSkew.
	BeforeEnrolment time.Duration
	// ProofMaxAge bounds, under RecordersAuthenticated, how old a dock's
	// proof of holding a recorder may be: a proof counts only while its
	// signed time (wire.AuthProof.At, capped at its arrival) is within
	// ProofMaxAge of the store's clock, so a dock must dock the recorder
	// again to keep handling it. 0 (the default): no limit, a proof counts
	// for ever. Negative is refused (ErrArgument).
	ProofMaxAge time.Duration
}

// DefaultReportSkew is the default Opts.ReportSkew.
const DefaultReportSkew = 5 * time.Minute

// DefaultBeforeEnrolment is the default Opts.BeforeEnrolment: a dock kept
// offline for a week still delivers its backlog.
const DefaultBeforeEnrolment = 7 * 24 * time.Hour

// DefaultOpts are the options a nil *Opts stands for.
var DefaultOpts = Opts{BusyTimeout: 10 * time.Second}

// Store is the collector's database handle, safe for concurrent use.
type Store struct {
	db    *sql.DB
	d     dialect
	log   *slog.Logger
	clock clockwork.Clock // stamps records (tests inject a fake)
	wall  clockwork.Clock // paces retries of real I/O: always the real clock
	// wmu serialises this process's SQLite write transactions, so they queue
	// in Go instead of spinning in SQLite's busy handler. Unused on
	// PostgreSQL, where row locks order concurrent writers.
	wmu sync.Mutex

	policy          RecorderPolicy
	skew            time.Duration
	beforeEnrolment time.Duration
	proofMaxAge     time.Duration
	refusals        refusals
}

// Open connects to dsn and applies any pending migrations. dsn is
// "sqlite:///abs/path.db", "sqlite://rel/path.db", a plain file path, or a
// "postgres://" / "postgresql://" URL (or key=value string prefixed by
// "postgres:").
func Open(ctx context.Context, dsn string, opts *Opts) (*Store, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		if o.BusyTimeout <= 0 {
			o.BusyTimeout = DefaultOpts.BusyTimeout
		}
	}
	if _, err := ParseRecorderPolicy(string(o.Recorders)); err != nil {
		return nil, err
	}
	if o.ReportSkew <= 0 {
		o.ReportSkew = DefaultReportSkew
	}
	if o.BeforeEnrolment <= 0 {
		o.BeforeEnrolment = DefaultBeforeEnrolment
	}
	if o.ProofMaxAge < 0 {
		return nil, fmt.Errorf("%w: proof max age %s is negative (0: no limit)", ErrArgument, o.ProofMaxAge)
	}
	s := &Store{log: o.Logger, clock: o.Clock, wall: clockwork.NewRealClock(), policy: o.Recorders, skew: o.ReportSkew,
		beforeEnrolment: o.BeforeEnrolment, proofMaxAge: o.ProofMaxAge}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = s.wall
	}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"), strings.HasPrefix(dsn, "postgres:"):
		s.d = pgDialect
		s.db, err = openPG(strings.TrimPrefix(dsn, "postgres:"), dsn, o)
	default:
		s.d = sqliteDialect
		s.db, err = openSQLite(dsn, o)
	}
	if err != nil {
		return nil, err
	}
	if err := s.ping(ctx, o.BusyTimeout); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: connect %s: %w", s.d.name, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// ping opens the first connection. On SQLite that connection switches the
// file to WAL, which needs the write lock for a moment and is not covered by
// busy_timeout: collectors starting together retry a busy answer until
// busyTimeout has passed.
func (s *Store) ping(ctx context.Context, busyTimeout time.Duration) error {
	deadline := s.wall.Now().Add(busyTimeout)
	bo := &backoff.ExponentialBackOff{InitialInterval: 5 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: 200 * time.Millisecond}
	bo.Reset()
	for {
		err := s.db.PingContext(ctx)
		if err == nil || !s.d.retryable(err) || s.wall.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wall.After(bo.NextBackOff()):
		}
	}
}

func openPG(trimmed, dsn string, o Opts) (*sql.DB, error) {
	if strings.HasPrefix(dsn, "postgres:") && !strings.HasPrefix(dsn, "postgres://") {
		dsn = trimmed // "postgres:host=... dbname=..." key=value form
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDSN, err)
	}
	// Exec mode: one round trip per statement, no server-side prepared
	// statement cache to manage; the package's statements are few and
	// Commit's carry a whole batch in one JSON parameter.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	var copts []stdlib.OptionOpenDB
	if o.Schema != "" {
		setPath := "SET search_path TO " + pgx.Identifier{o.Schema}.Sanitize()
		copts = append(copts, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, setPath)
			return err
		}))
	}
	db := stdlib.OpenDB(*cfg, copts...)
	n := o.MaxConns
	if n <= 0 {
		n = 8
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// sqlitePath extracts the file path of a SQLite dsn.
func sqlitePath(dsn string) (string, error) {
	p := dsn
	switch {
	case strings.HasPrefix(p, "sqlite://"):
		p = strings.TrimPrefix(p, "sqlite://")
	case strings.HasPrefix(p, "sqlite:"):
		p = strings.TrimPrefix(p, "sqlite:")
	case strings.HasPrefix(p, "file:"):
		p = strings.TrimPrefix(p, "file:")
	}
	if p == "" || strings.ContainsRune(p, 0) || strings.Contains(p, ":memory:") {
		return "", fmt.Errorf("%w: sqlite path %q (need a file path)", ErrDSN, p)
	}
	return p, nil
}

func openSQLite(dsn string, o Opts) (*sql.DB, error) {
	p, err := sqlitePath(dsn)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(o.BusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "1")
	q.Set("_journal_mode", "WAL")
	// FULL: a commit is on disk before Commit returns and the dock is
	// acknowledged; NORMAL would lose the last commits on power loss.
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate") // take the write lock at BEGIN: no lock upgrades, no deadlock
	// A file: URI: SQLite decodes %HH, so escape what would end the path.
	esc := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
	db, err := sql.Open("sqlite", "file:"+esc+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDSN, err)
	}
	n := o.MaxConns
	if n <= 0 {
		n = 4
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}

// Close closes the database. Callers stop using the Store first.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping checks the database is reachable, for health checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Driver names the engine: "sqlite" or "postgres".
func (s *Store) Driver() string { return s.d.name }

// String describes the store for logs.
func (s *Store) String() string { return "store(" + s.d.name + ")" }

// tx runs fn in a write transaction, retrying transient conflicts with a
// jittered, ctx-aware backoff.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.d.name == "sqlite" {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	bo := &backoff.ExponentialBackOff{InitialInterval: 5 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: 500 * time.Millisecond}
	bo.Reset()
	for attempt := 1; ; attempt++ {
		err := s.txOnce(ctx, fn)
		if err == nil || attempt >= 8 || !s.d.retryable(err) {
			return err
		}
		s.log.Debug("store: transaction conflict, retrying", "attempt", attempt, "err", err)
		t := s.wall.NewTimer(bo.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("store: %w (after %w)", ctx.Err(), err)
		case <-t.Chan():
		}
	}
}

func (s *Store) txOnce(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// ns converts a time to the stored Unix nanoseconds; the zero time is NULL.
func ns(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNS converts stored nanoseconds back; NULL is the zero time.
func fromNS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}

// minTime and maxTime bound what int64 Unix nanoseconds can hold.
var (
	minTime = time.Unix(0, -1<<63).UTC()
	maxTime = time.Unix(0, 1<<63-1).UTC()
)

func timeOK(t time.Time) bool {
	return t.IsZero() || (!t.Before(minTime) && !t.After(maxTime))
}
