package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// People of the registry (migration 0006): who may sign in to the console
// or call the API, with one role, scoped to units; their sessions and API
// tokens. The store keeps hashes only: package people hashes passwords
// (argon2id) and tokens (SHA-256) and owns what each role may do.

// Person is someone who may sign in.
type Person struct {
	Name         string    `json:"name"`
	DisplayName  string    `json:"display_name,omitempty"`
	Role         string    `json:"role"`
	Units        []string  `json:"units"`
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
}

// SavePerson creates or updates a person (role, units, password hash,
// display name, disabled), recording by; an empty PasswordHash keeps the
// stored one.
func (s *Store) SavePerson(ctx context.Context, p Person, by string) error {
	if err := wire.ValidID(p.Name); err != nil {
		return fmt.Errorf("%w: person: %w", ErrArgument, err)
	}
	if err := checkBy(by); err != nil {
		return err
	}
	if p.Role == "" || len(p.Role) > 32 || len(p.DisplayName) > 128 || len(p.PasswordHash) > 512 || len(p.Units) > 256 {
		return fmt.Errorf("%w: person %s: role, display name, hash or units out of bounds", ErrArgument, p.Name)
	}
	for _, u := range p.Units {
		if err := wire.ValidID(u); err != nil {
			return fmt.Errorf("%w: person %s unit: %w", ErrArgument, p.Name, err)
		}
	}
	if err := cleanText(p.Role, p.DisplayName, p.PasswordHash); err != nil {
		return fmt.Errorf("%w: person: %w", ErrArgument, err)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, existed, err := s.person(ctx, tx, p.Name)
		if err != nil {
			return err
		}
		change := "added: " + describePerson(p)
		if existed {
			var ch []string
			if d := personDiff(before, p); d != "" {
				ch = append(ch, d)
			}
			if p.PasswordHash != "" {
				ch = append(ch, "password set")
			}
			if len(ch) == 0 {
				ch = append(ch, "unchanged")
			}
			change = "saved: " + strings.Join(ch, "; ")
		}
		if err := s.personChangeTx(ctx, tx, p.Name, by, "", change); err != nil {
			return err
		}
		if p.Disabled {
			if err := s.revokeTx(ctx, tx, p.Name); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.d.q(`INSERT INTO people (name, display_name, role, password_hash, disabled, created_by, created_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name,
			role = excluded.role, disabled = excluded.disabled,
			password_hash = CASE WHEN excluded.password_hash = '' THEN people.password_hash ELSE excluded.password_hash END`),
			p.Name, p.DisplayName, p.Role, p.PasswordHash, p.Disabled, by, s.clock.Now().UnixNano())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM person_units WHERE person = ?`), p.Name); err != nil {
			return err
		}
		for _, u := range slices.Compact(slices.Sorted(slices.Values(p.Units))) {
			if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO person_units (person, unit) VALUES (?, ?)`), p.Name, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save person %s: %w", p.Name, err)
	}
	return nil
}

// PersonByName returns a person with their units.
func (s *Store) PersonByName(ctx context.Context, name string) (Person, bool, error) {
	p, ok, err := s.person(ctx, s.db, name)
	if err != nil {
		return Person{}, false, fmt.Errorf("store: person %s: %w", name, err)
	}
	return p, ok, nil
}

// rowsQuerier is a database or a transaction, for reads of many rows.
type rowsQuerier interface {
	querier
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// person reads a person with their units through q.
func (s *Store) person(ctx context.Context, q rowsQuerier, name string) (Person, bool, error) {
	var p Person
	var at int64
	err := q.QueryRowContext(ctx, s.d.q(`SELECT name, display_name, role, password_hash, disabled, created_by, created_ns
		FROM people WHERE name = ?`), name).Scan(&p.Name, &p.DisplayName, &p.Role, &p.PasswordHash, &p.Disabled, &p.CreatedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Person{}, false, nil
	}
	if err != nil {
		return Person{}, false, err
	}
	p.CreatedAt = time.Unix(0, at).UTC()
	rs, err := q.QueryContext(ctx, s.d.q(`SELECT unit FROM person_units WHERE person = ? ORDER BY unit`), name)
	if err != nil {
		return Person{}, false, fmt.Errorf("units: %w", err)
	}
	defer rs.Close()
	p.Units = []string{}
	for rs.Next() {
		var u string
		if err := rs.Scan(&u); err != nil {
			return Person{}, false, fmt.Errorf("units: %w", err)
		}
		p.Units = append(p.Units, u)
	}
	if err := rs.Err(); err != nil {
		return Person{}, false, fmt.Errorf("units: %w", err)
	}
	return p, true, nil
}

// People lists everyone by name, with their units.
func (s *Store) People(ctx context.Context) ([]Person, error) {
	rs, err := s.db.QueryContext(ctx, `SELECT name FROM people ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: people: %w", err)
	}
	var names []string
	for rs.Next() {
		var n string
		if err := rs.Scan(&n); err != nil {
			rs.Close()
			return nil, fmt.Errorf("store: people: %w", err)
		}
		names = append(names, n)
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return nil, fmt.Errorf("store: people: %w", err)
	}
	var out []Person
	for _, n := range names {
		p, ok, err := s.PersonByName(ctx, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// Session is a signed-in browser: the hash of its cookie, whose it is,
// its CSRF token and when it expires.
type Session struct {
	IDHash  string
	Person  string
	CSRF    string
	Expires time.Time
}

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, ss Session) error {
	if ss.IDHash == "" || ss.Person == "" || ss.CSRF == "" || !timeOK(ss.Expires) {
		return fmt.Errorf("%w: session needs an id hash, a person, a CSRF token and an expiry", ErrArgument)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO sessions (id_sha256, person, csrf, created_ns, expires_ns) VALUES (?, ?, ?, ?, ?)`),
			ss.IDHash, ss.Person, ss.CSRF, s.clock.Now().UnixNano(), ss.Expires.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// SessionByHash returns the unexpired session whose cookie hashes to h.
func (s *Store) SessionByHash(ctx context.Context, h string) (Session, bool, error) {
	ss := Session{IDHash: h}
	var exp int64
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT person, csrf, expires_ns FROM sessions WHERE id_sha256 = ? AND expires_ns > ?`),
		h, s.clock.Now().UnixNano()).Scan(&ss.Person, &ss.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("store: session: %w", err)
	}
	ss.Expires = time.Unix(0, exp).UTC()
	return ss, true, nil
}

// DeleteSession ends a session (sign-out), and every expired one.
func (s *Store) DeleteSession(ctx context.Context, h string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM sessions WHERE id_sha256 = ? OR expires_ns <= ?`), h, s.clock.Now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// CreateAPIToken stores the SHA-256 of a person's API token; a zero
// expires never expires.
func (s *Store) CreateAPIToken(ctx context.Context, hash, person, label string, expires time.Time) error {
	if hash == "" || person == "" || len(label) > 128 || !timeOK(expires) {
		return fmt.Errorf("%w: API token needs a hash, a person and a short label", ErrArgument)
	}
	if err := cleanText(label); err != nil {
		return fmt.Errorf("%w: API token: %w", ErrArgument, err)
	}
	if _, ok, err := s.PersonByName(ctx, person); err != nil || !ok {
		return errors.Join(err, fmt.Errorf("%w: person %s", ErrNotFound, person))
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO api_tokens (sha256, person, label, created_ns, expires_ns) VALUES (?, ?, ?, ?, ?)`),
			hash, person, label, s.clock.Now().UnixNano(), ns(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create API token: %w", err)
	}
	return nil
}

// APITokenPerson returns whose unexpired API token hashes to hash.
func (s *Store) APITokenPerson(ctx context.Context, hash string) (string, bool, error) {
	var person string
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT person FROM api_tokens WHERE sha256 = ? AND (expires_ns IS NULL OR expires_ns > ?)`),
		hash, s.clock.Now().UnixNano()).Scan(&person)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: API token: %w", err)
	}
	return person, true, nil
}
