package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered file of migrations/: NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMigration, err)
	}
	var ms []migration
	for _, e := range ents {
		n := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(n, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: file %q is not NNNN_name.sql", ErrMigration, n)
		}
		b, err := migrationFS.ReadFile("migrations/" + n)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMigration, err)
		}
		ms = append(ms, migration{version: v, name: rest, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("%w: two migrations numbered %d", ErrMigration, ms[i].version)
		}
	}
	return ms, nil
}

// statements splits a migration into statements at a ';' ending a line,
// dropping -- comment lines.
func statements(src string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(src, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// migrate applies pending migrations in one transaction that first takes a
// lock, so collectors starting together apply each migration exactly once:
// PostgreSQL takes a transaction-scoped advisory lock keyed by the current
// schema; SQLite's BEGIN IMMEDIATE (the _txlock of every connection) holds
// the database's write lock.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return fmt.Errorf("%w: no migrations embedded", ErrMigration)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if s.d.dollar {
			if _, err := tx.ExecContext(ctx,
				`SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || '.berth.schema_migrations'))`); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_ns BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		known := ms[len(ms)-1].version
		for v := range applied {
			if v > known {
				return fmt.Errorf("database schema version %d is newer than this collector's %d: upgrade the collector", v, known)
			}
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			for _, st := range statements(s.d.ddl(m.sql)) {
				if _, err := tx.ExecContext(ctx, st); err != nil {
					return fmt.Errorf("%04d_%s: %w", m.version, m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?, ?, ?)`),
				m.version, m.name, s.clock.Now().UnixNano()); err != nil {
				return fmt.Errorf("record %04d: %w", m.version, err)
			}
			s.log.Info("store: migration applied", "driver", s.d.name, "version", m.version, "name", m.name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMigration, err)
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}
