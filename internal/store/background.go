package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Background responses. A response created with "background": true is
// written when it is queued (CreateBackground), its state and lease are
// renewed while it runs (UpdateBackground), its stream events are
// appended as they happen (AppendResponseEvents) so that another replica
// can follow them, and SaveResponse completes the row with its items.

// CreateBackground writes the row of a queued background response (or,
// with r.Background false, of a stored foreground response in progress,
// so that it can be read while it runs: see Response.Pending). Its
// items are written when it ends, by SaveResponse. A conversation named
// by r must be the owner's (ErrNotFound otherwise).
func (s *Store) CreateBackground(ctx context.Context, o Owner, r *Response) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: queue response: %w", err)
	}
	defer tx.Rollback()
	if r.ConversationID != "" {
		var n int
		err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM conversations
			WHERE tenant_id = $1 AND subject = $2 AND id = $3`), o.Tenant, o.Subject, r.ConversationID).Scan(&n)
		if err != nil {
			return fmt.Errorf("store: queue response %s: %w", r.ID, err)
		}
		if n == 0 {
			return fmt.Errorf("store: queue response %s: conversation %s: %w", r.ID, r.ConversationID, ErrNotFound)
		}
	}
	_, err = tx.ExecContext(ctx, s.rebind(`INSERT INTO responses (id, tenant_id, subject, model, status, created_at,
		previous_response_id, conversation_id, instructions, request, output, usage, error, metadata, store, body,
		background, lease_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`),
		r.ID, o.Tenant, o.Subject, r.Model, r.Status, micros(r.CreatedAt),
		r.PreviousResponseID, r.ConversationID, r.Instructions, rawOr(r.Request, "{}"), rawOr(r.Output, "[]"),
		rawOr(r.Usage, "{}"), r.Error, rawOr(r.Metadata, "{}"), boolInt(r.Store), rawOr(r.Body, "{}"),
		boolInt(r.Background), micros(r.LeaseUntil))
	if err != nil {
		return fmt.Errorf("store: queue response %s: %w", r.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: queue response %s: %w", r.ID, err)
	}
	return nil
}

// finishBackground writes a background response's final state over its
// queued row. A row already ended (by a lease that expired) is not
// overwritten: ErrNotFound.
func (s *Store) finishBackground(ctx context.Context, tx *sql.Tx, o Owner, r *Response) error {
	live := ` AND status IN ('queued', 'in_progress')`
	if !r.Background {
		// A foreground run's row (Pending) is its own to finish, even
		// marked failed by a reader after a very long run's lease lapsed.
		live = ""
	}
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE responses SET status = $1, output = $2, usage = $3, error = $4,
		body = $5, lease_until = 0
		WHERE tenant_id = $6 AND subject = $7 AND id = $8`+live),
		r.Status, rawOr(r.Output, "[]"), rawOr(r.Usage, "{}"), r.Error, rawOr(r.Body, "{}"),
		o.Tenant, o.Subject, r.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return err
	}
	return nil
}

// UpdateBackground renews a running background response's lease, and
// sets its status and body when status is given. ErrNotFound means the
// row has ended meanwhile (cancelled at another replica) or is gone.
func (s *Store) UpdateBackground(ctx context.Context, o Owner, id, status string, body json.RawMessage, leaseUntil time.Time) error {
	q := `UPDATE responses SET lease_until = $1
		WHERE tenant_id = $2 AND subject = $3 AND id = $4 AND status IN ('queued', 'in_progress')`
	args := []any{micros(leaseUntil), o.Tenant, o.Subject, id}
	if status != "" {
		q = `UPDATE responses SET lease_until = $1, status = $2, body = $3
			WHERE tenant_id = $4 AND subject = $5 AND id = $6 AND status IN ('queued', 'in_progress')`
		args = []any{micros(leaseUntil), status, rawOr(body, "{}"), o.Tenant, o.Subject, id}
	}
	res, err := s.w.ExecContext(ctx, s.rebind(q), args...)
	if err != nil {
		return fmt.Errorf("store: update response %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return fmt.Errorf("store: update response %s: %w", id, err)
	}
	return nil
}

// EndBackground ends a background response that will not run on (it was
// cancelled before it started, or the process running it stopped) with
// status and body, unless it has ended already. It reports whether it
// did.
func (s *Store) EndBackground(ctx context.Context, o Owner, id, status, errMsg string, body json.RawMessage) (bool, error) {
	res, err := s.w.ExecContext(ctx, s.rebind(`UPDATE responses SET status = $1, error = $2, body = $3, lease_until = 0
		WHERE tenant_id = $4 AND subject = $5 AND id = $6 AND status IN ('queued', 'in_progress')`),
		status, errMsg, rawOr(body, "{}"), o.Tenant, o.Subject, id)
	if err != nil {
		return false, fmt.Errorf("store: end response %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: end response %s: %w", id, err)
	}
	return n > 0, nil
}

// AppendResponseEvents stores stream events of the owner's response,
// numbered from first. Events already stored are kept as they are.
func (s *Store) AppendResponseEvents(ctx context.Context, o Owner, id string, first int64, events []json.RawMessage) error {
	if len(events) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: response %s events: %w", id, err)
	}
	defer tx.Rollback()
	q := s.rebind(`INSERT INTO response_events (tenant_id, subject, response_id, seq, data)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`)
	for i, ev := range events {
		if _, err := tx.ExecContext(ctx, q, o.Tenant, o.Subject, id, first+int64(i), string(ev)); err != nil {
			return fmt.Errorf("store: response %s events: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: response %s events: %w", id, err)
	}
	return nil
}
