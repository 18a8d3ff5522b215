package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations is the schema history, oldest first. A migration's version is
// its index + 1. Append only: never edit or reorder a migration that has
// shipped. Each text must run unchanged on SQLite and PostgreSQL.
var migrations = []string{
	"migrations/0001_keys_usage.sql",
	"migrations/0002_key_regions.sql",
	"migrations/0003_responses.sql",
	"migrations/0004_key_tools.sql",
	"migrations/0005_memories.sql",
	"migrations/0006_background.sql",
	"migrations/0007_usage_response.sql",
	"migrations/0008_tool_pins.sql",
	"migrations/0009_memory_vectors.sql",
}

// SchemaLatest is the schema version this build migrates to.
var SchemaLatest = len(migrations)

// migrationLockID is the PostgreSQL advisory lock that serialises
// migrations between processes starting at once ("causeway" in ASCII).
const migrationLockID int64 = 0x6361757365776179

// migrate applies the migrations the database has not seen, each in its
// own transaction.
func (s *Store) migrate(ctx context.Context) error {
	for i, name := range migrations {
		text, err := migrationFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		if err := s.applyMigration(ctx, i+1, string(text)); err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
	}
	return nil
}

// applyMigration runs one migration unless it is already recorded. On
// PostgreSQL the transaction first takes an advisory lock, so a second
// process waits and then sees the version recorded; on SQLite the writer
// begins IMMEDIATE, which serialises the same way.
func (s *Store) applyMigration(ctx context.Context, version int, text string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if s.dialect == DialectPostgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at BIGINT  NOT NULL
)`); err != nil {
		return err
	}
	var n int
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = $1`), version).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil // already applied; Rollback releases the lock
	}
	if _, err := tx.ExecContext(ctx, text); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		s.rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`),
		version, micros(time.Now())); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the highest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}
