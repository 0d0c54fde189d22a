package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// PersonEdit is a change an admin makes to a person: the role, the units,
// the display name and whether the person is disabled (sign-in, sessions
// and API tokens refused). The password stays.
type PersonEdit struct {
	Role        string   `json:"role"`
	Units       []string `json:"units"`
	DisplayName string   `json:"display_name"`
	Disabled    bool     `json:"disabled"`
}

// PersonChange is one entry of a person's append-only history: who
// changed what, when.
type PersonChange struct {
	ID     int64     `json:"id"`
	Person string    `json:"person"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	ByRole string    `json:"by_role,omitempty"`
	Change string    `json:"change"`
}

// EditPerson applies e to an existing person and appends what changed to
// the person's history with who did it (by, in role byRole), in one
// transaction. Disabling a person also ends their sessions and revokes
// their API tokens, so that enabling them again revives neither.
func (s *Store) EditPerson(ctx context.Context, name string, e PersonEdit, by, byRole string) (Person, error) {
	if err := checkBy(by); err != nil {
		return Person{}, err
	}
	if e.Role == "" || len(e.Role) > 32 || len(e.DisplayName) > 128 || len(e.Units) > 256 || len(byRole) > 32 {
		return Person{}, fmt.Errorf("%w: person %s: role, display name or units out of bounds", ErrArgument, name)
	}
	for _, u := range e.Units {
		if err := wire.ValidID(u); err != nil {
			return Person{}, fmt.Errorf("%w: person %s unit: %w", ErrArgument, name, err)
		}
	}
	if err := cleanText(e.Role, e.DisplayName, byRole); err != nil {
		return Person{}, fmt.Errorf("%w: person: %w", ErrArgument, err)
	}
	units := slices.Compact(slices.Sorted(slices.Values(e.Units)))
	var after Person
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, ok, err := s.person(ctx, tx, name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: person %s", ErrNotFound, name)
		}
		after = before
		after.Role, after.Units, after.DisplayName, after.Disabled = e.Role, units, e.DisplayName, e.Disabled
		diff := personDiff(before, after)
		if diff == "" {
			return nil // nothing changed, nothing to record
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE people SET role = ?, display_name = ?, disabled = ? WHERE name = ?`),
			e.Role, e.DisplayName, e.Disabled, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM person_units WHERE person = ?`), name); err != nil {
			return err
		}
		for _, u := range units {
			if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO person_units (person, unit) VALUES (?, ?)`), name, u); err != nil {
				return err
			}
		}
		if e.Disabled {
			if err := s.revokeTx(ctx, tx, name); err != nil {
				return err
			}
		}
		return s.personChangeTx(ctx, tx, name, by, byRole, diff)
	})
	if err != nil {
		return Person{}, fmt.Errorf("store: edit person %s: %w", name, err)
	}
	after.PasswordHash = ""
	return after, nil
}

// PersonChanges lists a person's history, oldest first.
func (s *Store) PersonChanges(ctx context.Context, name string) ([]PersonChange, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT id, person, at_ns, by_person, by_role, change FROM person_changes
		WHERE person = ? ORDER BY id`), name)
	if err != nil {
		return nil, fmt.Errorf("store: person changes: %w", err)
	}
	defer rs.Close()
	var out []PersonChange
	for rs.Next() {
		var c PersonChange
		var at int64
		if err := rs.Scan(&c.ID, &c.Person, &at, &c.By, &c.ByRole, &c.Change); err != nil {
			return nil, fmt.Errorf("store: person changes: %w", err)
		}
		c.At = time.Unix(0, at).UTC()
		out = append(out, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: person changes: %w", err)
	}
	return out, nil
}

func (s *Store) personChangeTx(ctx context.Context, tx *sql.Tx, name, by, byRole, change string) error {
	_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO person_changes (person, at_ns, by_person, by_role, change) VALUES (?, ?, ?, ?, ?)`),
		name, s.clock.Now().UnixNano(), by, byRole, change)
	return err
}

// revokeTx ends a person's sessions and deletes their API tokens.
func (s *Store) revokeTx(ctx context.Context, tx *sql.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM sessions WHERE person = ?`), name); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM api_tokens WHERE person = ?`), name)
	return err
}

func describePerson(p Person) string {
	d := "role " + p.Role + ", units " + unitsText(p.Units)
	if p.DisplayName != "" {
		d += ", display name " + p.DisplayName
	}
	if p.Disabled {
		d += ", disabled"
	}
	return d
}

func unitsText(us []string) string {
	if len(us) == 0 {
		return "(none)"
	}
	return strings.Join(slices.Compact(slices.Sorted(slices.Values(us))), ",")
}

// personDiff says what differs from a to b ("" if nothing).
func personDiff(a, b Person) string {
	var ch []string
	if a.Role != b.Role {
		ch = append(ch, "role "+a.Role+" → "+b.Role)
	}
	if ua, ub := unitsText(a.Units), unitsText(b.Units); ua != ub {
		ch = append(ch, "units "+ua+" → "+ub)
	}
	if a.DisplayName != b.DisplayName {
		ch = append(ch, fmt.Sprintf("display name %q → %q", a.DisplayName, b.DisplayName))
	}
	if a.Disabled != b.Disabled {
		if b.Disabled {
			ch = append(ch, "disabled (sessions ended, API tokens revoked)")
		} else {
			ch = append(ch, "enabled")
		}
	}
	return strings.Join(ch, "; ")
}
