// Package store is Causeway's persistence: virtual keys and the usage
// ledger, kept in SQLite (a local file, the default) or PostgreSQL behind
// one Store type, with hand-written SQL and one set of embedded migrations
// that runs on both.
//
// Every row carries a tenant_id and every read that a caller can point at
// another tenant's data is scoped by it. The store knows no HTTP: it takes
// and returns domain types (identity.Key, billing.Record) and reports
// failures as wrapped errors and the sentinels ErrNotFound and ErrConflict.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Sentinel errors. Test with errors.Is: the store wraps them with context.
var (
	// ErrNotFound means no row matched, or the row belongs to another tenant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a row with the same unique key already exists.
	ErrConflict = errors.New("store: conflict")
	// ErrCursor means a page's after cursor names nothing in the list.
	ErrCursor = errors.New("store: unknown cursor")
	// ErrLimit means a write would go past a configured cap.
	ErrLimit = errors.New("store: limit reached")
)

// Dialects returned by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// DefaultSQLitePath is where Open puts the database when dsn is empty.
const DefaultSQLitePath = "./causeway-data/causeway.db"

// postgresPoolSize caps connections to PostgreSQL per Store.
const postgresPoolSize = 10

// Store is Causeway's database. It is safe for concurrent use.
//
// On SQLite it holds two pools over the same file: a single-connection
// writer, so that writers queue in Go instead of failing with SQLITE_BUSY,
// and a read-only pool, so that reads run in parallel with the writer under
// WAL. On PostgreSQL both are the same pool.
type Store struct {
	dialect string
	// r serves reads; w serves writes and transactions.
	r, w *sql.DB
	// bulkExec is prepended to the arguments of multi-row inserts. On
	// PostgreSQL it tells pgx to run them unprepared: by default pgx
	// caches a prepared statement per query text on every connection, and
	// one for a 100-row usage insert holds about 1 MB of server memory, per
	// batch size, per connection. Elsewhere it is empty.
	bulkExec []any
	// insertOne is the prepared one-row usage INSERT on SQLite's writer.
	insertOne *sql.Stmt
}

// Open opens the store named by dsn and brings its schema up to date.
//
// A dsn starting with postgres:// or postgresql:// is a PostgreSQL URL;
// anything else is a SQLite file path, whose parent directories are
// created. "" means DefaultSQLitePath, and ":memory:" opens a private
// in-memory database (for tests; it lives as long as the Store).
func Open(ctx context.Context, dsn string) (*Store, error) {
	var (
		s   *Store
		err error
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s, err = openPostgres(ctx, dsn)
	} else {
		s, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.dialect == DialectSQLite {
		if s.insertOne, err = s.w.PrepareContext(ctx, rebindPositional(insertUsageSQL(1))); err != nil {
			s.Close()
			return nil, fmt.Errorf("store: prepare usage insert: %w", err)
		}
	}
	return s, nil
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db.SetMaxOpenConns(postgresPoolSize)
	db.SetMaxIdleConns(postgresPoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	return &Store{
		dialect:  DialectPostgres,
		r:        db,
		w:        db,
		bulkExec: []any{pgx.QueryExecModeExec},
	}, nil
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		path = DefaultSQLitePath
	}
	if strings.ContainsRune(path, '?') {
		// The driver splits its DSN at the first '?'.
		return nil, fmt.Errorf("store: open sqlite: path %q must not contain '?'", path)
	}
	// Pragmas apply to every connection the pools open. busy_timeout
	// covers other processes on the same file; writers in this process
	// queue on the single writer connection. _txlock=immediate takes the
	// write lock at BEGIN, so a transaction never fails halfway on
	// upgrading a read lock.
	const common = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	if path == ":memory:" {
		// Every connection to :memory: is a different database, so one
		// connection serves reads and writes, and must never be closed.
		db, err := sql.Open("sqlite", ":memory:?"+common)
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		return &Store{dialect: DialectSQLite, r: db, w: db}, nil
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Ping the writer first: it creates the file and switches it to WAL
	// (a persistent setting) before any reader opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	// query_only makes an accidental write through the read pool fail
	// loudly instead of racing the writer for the lock.
	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(5 * time.Minute)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	return &Store{dialect: DialectSQLite, r: r, w: w}, nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	if s.insertOne != nil {
		s.insertOne.Close()
	}
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// micros stores a time as unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros reads a time stored by micros, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// where builds a WHERE clause with $n placeholders numbered in order.
type where struct {
	conds []string
	args  []any
}

// add appends the condition "expr $n" with v as its argument.
func (w *where) add(expr string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, fmt.Sprintf("%s $%d", expr, len(w.args)))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// rebind adapts a query written with $1, $2, … to the store's dialect.
//
// SQLite does accept $N, but as a named parameter that it resolves by a
// linear search, so a multi-row INSERT with thousands of them takes about
// twenty times longer to prepare than with anonymous ?. On SQLite rebind
// therefore turns each $N into ?, which binds by position: the
// placeholders must appear in the text in order, $1 first, each once.
// rebind panics otherwise, a programming error every test run catches.
func (s *Store) rebind(q string) string {
	if s.dialect != DialectSQLite {
		return q
	}
	return rebindPositional(q)
}

func rebindPositional(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	next := 1
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c != '$' || i+1 == len(q) || q[i+1] < '0' || q[i+1] > '9' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		n := 0
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			n = n*10 + int(q[j]-'0')
			j++
		}
		if n != next {
			panic(fmt.Sprintf("store: placeholder $%d out of order (want $%d) in %q", n, next, q))
		}
		next++
		b.WriteByte('?')
		i = j - 1
	}
	return b.String()
}
