package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// ListResponses pages through the owner's responses by creation time
// (then id). p.After is the id of a response of the owner's to start
// after; one that is not the owner's is ErrNotFound. hasMore says whether
// more follow the page.
func (s *Store) ListResponses(ctx context.Context, o Owner, p Page) (rs []Response, hasMore bool, err error) {
	rows, more, err := s.listOwned(ctx, o, "responses", "id, created_at, body", p, func(sc func(...any) error) (any, error) {
		var r Response
		var created int64
		var body string
		if err := sc(&r.ID, &created, &body); err != nil {
			return nil, err
		}
		r.CreatedAt, r.Body = fromMicros(created), json.RawMessage(body)
		return r, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: list responses: %w", err)
	}
	for _, r := range rows {
		rs = append(rs, r.(Response))
	}
	return rs, more, nil
}

// ListConversations pages through the owner's conversations by creation
// time (then id), like ListResponses.
func (s *Store) ListConversations(ctx context.Context, o Owner, p Page) (cs []Conversation, hasMore bool, err error) {
	rows, more, err := s.listOwned(ctx, o, "conversations", "id, created_at, metadata", p, func(sc func(...any) error) (any, error) {
		var c Conversation
		var created int64
		var meta string
		if err := sc(&c.ID, &created, &meta); err != nil {
			return nil, err
		}
		c.CreatedAt, c.Metadata = fromMicros(created), json.RawMessage(meta)
		return c, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: list conversations: %w", err)
	}
	for _, c := range rows {
		cs = append(cs, c.(Conversation))
	}
	return cs, more, nil
}

// listOwned pages through the owner's rows of table (which has id,
// tenant_id, subject and created_at) ordered by created_at, id.
func (s *Store) listOwned(ctx context.Context, o Owner, table, columns string, p Page,
	scan func(func(...any) error) (any, error)) ([]any, bool, error) {
	w := where{}
	w.add("tenant_id =", o.Tenant)
	w.add("subject =", o.Subject)
	cmp := ">"
	if p.Desc {
		cmp = "<"
	}
	q := `SELECT ` + columns + ` FROM ` + table + w.String()
	args := w.args
	if p.After != "" {
		var created int64
		err := s.r.QueryRowContext(ctx, s.rebind(`SELECT created_at FROM `+table+`
			WHERE tenant_id = $1 AND subject = $2 AND id = $3`), o.Tenant, o.Subject, p.After).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("%s %s: %w", table, p.After, ErrNotFound)
		}
		if err != nil {
			return nil, false, err
		}
		q += fmt.Sprintf(" AND (created_at %s $3 OR (created_at = $4 AND id %s $5))", cmp, cmp)
		args = append(args, created, created, p.After)
	}
	if p.Desc {
		q += " ORDER BY created_at DESC, id DESC"
	} else {
		q += " ORDER BY created_at, id"
	}
	if p.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", p.Limit+1)
	}
	rows, err := s.r.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		v, err := scan(rows.Scan)
		if err != nil {
			return nil, false, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := false
	if p.Limit > 0 && len(out) > p.Limit {
		out, more = out[:p.Limit], true
	}
	return out, more, nil
}
