// Package storetest opens real stores for tests: a SQLite file in the
// test's temporary directory and a fresh PostgreSQL database that is
// dropped when the test ends. Tests written with ForEach run on both.
//
// PostgreSQL is found at CAUSEWAY_TEST_POSTGRES_URL, by default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. When it is
// unreachable the PostgreSQL tests are skipped, unless
// CAUSEWAY_TEST_REQUIRE_SERVICES=1, which makes that a failure.
//
// Only tests may import this package.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for CREATE DATABASE

	"github.com/causeway-ai/causeway/internal/store"
)

// Kinds of store, as passed to Open and DSN.
const (
	SQLite   = store.DialectSQLite
	Postgres = store.DialectPostgres
)

// Kinds lists every kind of store, in the order ForEach runs them.
var Kinds = []string{SQLite, Postgres}

// DefaultPostgresURL is the server used when CAUSEWAY_TEST_POSTGRES_URL is
// unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ForEach runs fn as the subtests "sqlite" and "postgres", each on a new,
// empty, migrated store that is closed when the subtest ends.
func ForEach(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			fn(t, Open(t, kind))
		})
	}
}

// Open returns a new, empty, migrated store of the given kind ("sqlite" or
// "postgres"), closed when the test ends.
func Open(t testing.TB, kind string) *store.Store {
	t.Helper()
	dsn := DSN(t, kind)
	s, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("storetest: open %s store: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close %s store: %v", kind, err)
		}
	})
	return s
}

// DSN returns the dsn of a new, empty database of the given kind, for
// tests that open stores themselves: a file in t.TempDir(), or a
// PostgreSQL database dropped when the test ends. Nothing is migrated yet.
func DSN(t testing.TB, kind string) string {
	t.Helper()
	switch kind {
	case SQLite:
		return filepath.Join(t.TempDir(), "causeway.db")
	case Postgres:
		return postgresDSN(t)
	default:
		t.Fatalf("storetest: unknown store kind %q (want %q or %q)", kind, SQLite, Postgres)
		return ""
	}
}

// unavailable skips the test, or fails it when services are required.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CAUSEWAY_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf(format+" (CAUSEWAY_TEST_REQUIRE_SERVICES=1)", args...)
	}
	t.Skipf(format+"; start PostgreSQL or set CAUSEWAY_TEST_POSTGRES_URL to run these tests", args...)
}

func postgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("CAUSEWAY_TEST_POSTGRES_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: CAUSEWAY_TEST_POSTGRES_URL: %v", err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("storetest: open postgres %s: %v", u.Redacted(), err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		unavailable(t, "storetest: PostgreSQL at %s is unreachable: %v", u.Redacted(), err)
	}

	var b [8]byte
	rand.Read(b[:])
	name := "causeway_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// t.Context() is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
