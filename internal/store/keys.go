package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
)

const keyColumns = `id, tenant_id, name, team, user_name, hash, prefix, models,
	budget_nano_usd, rpm, tpm, created_at, revoked_at, regions, tools`

// CreateKey stores a new key. ID, Tenant and Hash are required; a zero
// CreatedAt is set to now (in k too). It returns ErrConflict if a key with
// the same id or hash exists, in any tenant.
func (s *Store) CreateKey(ctx context.Context, k *identity.Key) error {
	if k.ID == "" || k.Tenant == "" || k.Hash == "" {
		return fmt.Errorf("store: create key: id, tenant and hash are required")
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	models, err := json.Marshal(k.Models)
	if err != nil {
		return fmt.Errorf("store: create key: %w", err)
	}
	if k.Models == nil {
		models = []byte("[]")
	}
	regions := []byte("[]")
	if len(k.Regions) > 0 {
		if regions, err = json.Marshal(k.Regions); err != nil {
			return fmt.Errorf("store: create key: %w", err)
		}
	}
	tools := []byte("[]")
	if len(k.Tools) > 0 {
		if tools, err = json.Marshal(k.Tools); err != nil {
			return fmt.Errorf("store: create key: %w", err)
		}
	}
	var revoked sql.NullInt64
	if k.RevokedAt != nil {
		revoked = sql.NullInt64{Int64: micros(*k.RevokedAt), Valid: true}
	}
	// DO NOTHING without a conflict target covers both the id and the hash,
	// and tells a duplicate apart by rows affected, the same on both
	// dialects, instead of by driver-specific error codes.
	res, err := s.w.ExecContext(ctx, s.rebind(`INSERT INTO keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT DO NOTHING`),
		k.ID, k.Tenant, k.Name, k.Team, k.User, k.Hash, k.Prefix, string(models),
		k.BudgetNanoUSD, k.RPM, k.TPM, micros(k.CreatedAt), revoked, string(regions), string(tools))
	if err != nil {
		return fmt.Errorf("store: create key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: create key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: create key %s: %w", k.ID, ErrConflict)
	}
	return nil
}

// KeyByHash returns the key with the given hash, in any tenant: it is how
// a request's key is authenticated before its tenant is known.
func (s *Store) KeyByHash(ctx context.Context, hash string) (*identity.Key, error) {
	row := s.r.QueryRowContext(ctx, s.rebind(`SELECT `+keyColumns+` FROM keys WHERE hash = $1`), hash)
	k, err := scanKey(row)
	if err != nil {
		return nil, fmt.Errorf("store: key by hash: %w", err)
	}
	return k, nil
}

// GetKey returns the tenant's key with the given id. Another tenant's key
// is ErrNotFound.
func (s *Store) GetKey(ctx context.Context, tenant, id string) (*identity.Key, error) {
	row := s.r.QueryRowContext(ctx,
		s.rebind(`SELECT `+keyColumns+` FROM keys WHERE tenant_id = $1 AND id = $2`), tenant, id)
	k, err := scanKey(row)
	if err != nil {
		return nil, fmt.Errorf("store: get key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys returns the tenant's keys, revoked ones included, newest first.
func (s *Store) ListKeys(ctx context.Context, tenant string) ([]identity.Key, error) {
	rows, err := s.r.QueryContext(ctx, s.rebind(`SELECT `+keyColumns+` FROM keys
		WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`), tenant)
	if err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	defer rows.Close()
	var keys []identity.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list keys: %w", err)
		}
		keys = append(keys, *k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey marks the tenant's key revoked at the given time. Revoking a
// revoked key succeeds and keeps the first time. Another tenant's key is
// ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, tenant, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, s.rebind(`UPDATE keys SET revoked_at = COALESCE(revoked_at, $1)
		WHERE tenant_id = $2 AND id = $3`), micros(at), tenant, id)
	if err != nil {
		return fmt.Errorf("store: revoke key %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: revoke key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: revoke key %s: %w", id, ErrNotFound)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanKey reads one row of keyColumns. A missing row is ErrNotFound.
func scanKey(sc scanner) (*identity.Key, error) {
	var (
		k       identity.Key
		models  string
		regions string
		tools   string
		created int64
		revoked sql.NullInt64
	)
	err := sc.Scan(&k.ID, &k.Tenant, &k.Name, &k.Team, &k.User, &k.Hash, &k.Prefix, &models,
		&k.BudgetNanoUSD, &k.RPM, &k.TPM, &created, &revoked, &regions, &tools)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return nil, fmt.Errorf("key %s: models: %w", k.ID, err)
	}
	if len(k.Models) == 0 {
		k.Models = nil // "all models", whether stored as [] or null
	}
	if err := json.Unmarshal([]byte(regions), &k.Regions); err != nil {
		return nil, fmt.Errorf("key %s: regions: %w", k.ID, err)
	}
	if len(k.Regions) == 0 {
		k.Regions = nil
	}
	if err := json.Unmarshal([]byte(tools), &k.Tools); err != nil {
		return nil, fmt.Errorf("key %s: tools: %w", k.ID, err)
	}
	if len(k.Tools) == 0 {
		k.Tools = nil
	}
	k.CreatedAt = fromMicros(created)
	if revoked.Valid {
		t := fromMicros(revoked.Int64)
		k.RevokedAt = &t
	}
	return &k, nil
}
