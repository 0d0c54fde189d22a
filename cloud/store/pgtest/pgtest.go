// Package pgtest gives tests a fresh schema on the test PostgreSQL server,
// so that every package's tests run the store on both of its engines the
// same way. It is imported only by tests.
//
// The server is BERTH_PG_DSN, else the local default. A test that cannot
// reach it skips, unless PostgreSQL is demanded (BERTH_REQUIRE_PG, or
// BERTH_PG_DSN naming a server): then it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// DefaultDSN is the server used when BERTH_PG_DSN is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN is the test server's connection string.
func DSN() string {
	if v := os.Getenv("BERTH_PG_DSN"); v != "" {
		return v
	}
	return DefaultDSN
}

// Required says whether the tests must run on PostgreSQL.
func Required() bool {
	return os.Getenv("BERTH_REQUIRE_PG") != "" || os.Getenv("BERTH_PG_DSN") != ""
}

var (
	once     sync.Once
	reachErr error
)

// Reachable pings the server (once per test binary) and says why not.
func Reachable() error {
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, DSN())
		if err == nil {
			err = c.Ping(ctx)
			c.Close(ctx)
		}
		reachErr = err
	})
	return reachErr
}

// Schema creates a fresh schema named prefix_<12 hex digits> on DSN(),
// dropped with everything in it when the test ends, and returns its name.
// An unreachable server skips the test, or fails it if Required.
func Schema(t testing.TB, prefix string) string {
	t.Helper()
	if err := Reachable(); err != nil {
		if Required() {
			t.Fatalf("PostgreSQL required (BERTH_REQUIRE_PG or BERTH_PG_DSN) but unreachable at %s: %v", DSN(), err)
		}
		t.Skipf("PostgreSQL unreachable at %s: %v", DSN(), err)
	}
	cfg, err := pgx.ParseConfig(DSN())
	if err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := prefix + "_" + hex.EncodeToString(rnd[:])
	admin := stdlib.OpenDB(*cfg)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec("CREATE SCHEMA " + ident); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + ident + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}
