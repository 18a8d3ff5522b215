package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Item kinds: a response's own input and output items, and a
// conversation's items.
const (
	KindInput        = "input"
	KindOutput       = "output"
	KindConversation = "conversation"
)

// Owner is who a stored response, conversation or item belongs to. Every
// query of the runtime's tables is scoped by both fields: another
// principal's id reads as ErrNotFound.
type Owner struct {
	Tenant  string
	Subject string
}

// Response is a stored response. Its JSON fields are kept as the runtime
// gives them; the store does not look inside.
type Response struct {
	ID                 string
	Model              string
	Status             string
	CreatedAt          time.Time
	PreviousResponseID string
	ConversationID     string
	Instructions       string
	// Request is the create body as received.
	Request json.RawMessage
	// Output is the output items; Body is the whole response object.
	Output   json.RawMessage
	Usage    json.RawMessage
	Error    string
	Metadata json.RawMessage
	Store    bool
	Body     json.RawMessage
	// Background marks a response created with "background": true: its
	// row is written when it is queued (CreateBackground) and completed
	// by SaveResponse. LeaseUntil is when its run's lease lapses.
	Background bool
	LeaseUntil time.Time
	// Pending, on SaveResponse, says the row was written when the
	// response started (CreateBackground): it is completed, not inserted.
	Pending bool
}

// Item is one stored item of a response or a conversation.
type Item struct {
	ID   string
	Type string
	Body json.RawMessage
	// ResponseID is the response the item belongs to, or, for a
	// conversation's item, the response that added it ("" if none).
	ResponseID string
	// Seq orders the items of one response (per kind) or conversation.
	Seq int64
}

// Conversation is a stored conversation.
type Conversation struct {
	ID        string
	CreatedAt time.Time
	Metadata  json.RawMessage
}

// Page asks for part of an ordered list of items. After is the id of the
// item to start after ("" for the start); Limit ≤ 0 means all; Desc lists
// newest first.
type Page struct {
	After string
	Limit int
	Desc  bool
}

func rawOr(b json.RawMessage, def string) string {
	if len(b) == 0 {
		return def
	}
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SaveResponse stores a response with its input and output items, and
// its stream events when it has any. When r.ConversationID is set, the
// input and output items are appended to that conversation too, which
// must be the owner's (ErrNotFound otherwise).
func (s *Store) SaveResponse(ctx context.Context, o Owner, r *Response, input, output []Item, events []json.RawMessage) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save response: %w", err)
	}
	defer tx.Rollback()
	if r.Background || r.Pending {
		// The row was written when the response was queued or started.
		err = s.finishBackground(ctx, tx, o, r)
	} else {
		_, err = tx.ExecContext(ctx, s.rebind(`INSERT INTO responses (id, tenant_id, subject, model, status, created_at,
		previous_response_id, conversation_id, instructions, request, output, usage, error, metadata, store, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`),
			r.ID, o.Tenant, o.Subject, r.Model, r.Status, micros(r.CreatedAt),
			r.PreviousResponseID, r.ConversationID, r.Instructions, rawOr(r.Request, "{}"), rawOr(r.Output, "[]"),
			rawOr(r.Usage, "{}"), r.Error, rawOr(r.Metadata, "{}"), boolInt(r.Store), rawOr(r.Body, "{}"))
	}
	if err != nil {
		return fmt.Errorf("store: save response %s: %w", r.ID, err)
	}
	if err := s.insertItems(ctx, tx, o, KindInput, r.ID, "", 0, input); err != nil {
		return fmt.Errorf("store: save response %s: %w", r.ID, err)
	}
	if err := s.insertItems(ctx, tx, o, KindOutput, r.ID, "", 0, output); err != nil {
		return fmt.Errorf("store: save response %s: %w", r.ID, err)
	}
	for i, ev := range events {
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO response_events (tenant_id, subject, response_id, seq, data)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`), o.Tenant, o.Subject, r.ID, i, string(ev)); err != nil {
			return fmt.Errorf("store: save response %s events: %w", r.ID, err)
		}
	}
	if r.ConversationID != "" {
		all := append(append([]Item(nil), input...), output...)
		for i := range all {
			all[i].ResponseID = r.ID
		}
		if all, err = s.newInConversation(ctx, tx, o, r.ConversationID, all); err != nil {
			return fmt.Errorf("store: save response %s: %w", r.ID, err)
		}
		if err := s.appendConversation(ctx, tx, o, r.ConversationID, all); err != nil {
			return fmt.Errorf("store: save response %s: %w", r.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save response %s: %w", r.ID, err)
	}
	return nil
}

// insertItems stores items of one kind, numbering them from first.
func (s *Store) insertItems(ctx context.Context, tx *sql.Tx, o Owner, kind, responseID, conversationID string, first int64, items []Item) error {
	q := s.rebind(`INSERT INTO items (id, tenant_id, subject, response_id, conversation_id, seq, kind, type, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`)
	for i, it := range items {
		rid := responseID
		if kind == KindConversation {
			rid = it.ResponseID
		}
		if _, err := tx.ExecContext(ctx, q, it.ID, o.Tenant, o.Subject, rid, conversationID,
			first+int64(i), kind, it.Type, string(it.Body)); err != nil {
			return err
		}
	}
	return nil
}

// newInConversation drops the items already in the conversation (an input
// item_reference to one of its items): an id appears once in a
// conversation.
func (s *Store) newInConversation(ctx context.Context, tx *sql.Tx, o Owner, id string, items []Item) ([]Item, error) {
	out := items[:0:0]
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.ID] {
			continue
		}
		seen[it.ID] = true
		var n int
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM items
			WHERE tenant_id = $1 AND conversation_id = $2 AND kind = $3 AND id = $4`), o.Tenant, id, KindConversation, it.ID).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			out = append(out, it)
		}
	}
	return out, nil
}

// appendConversation adds items at the end of the owner's conversation.
func (s *Store) appendConversation(ctx context.Context, tx *sql.Tx, o Owner, id string, items []Item) error {
	// The no-op update checks the conversation is the owner's and, on
	// PostgreSQL, locks its row until the transaction ends, so that two
	// responses appending at once do not take the same seq. (SQLite's
	// single writer serialises them already.)
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE conversations SET metadata = metadata
		WHERE tenant_id = $1 AND subject = $2 AND id = $3`), o.Tenant, o.Subject, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return fmt.Errorf("conversation %s: %w", id, err)
	}
	var last sql.NullInt64
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT MAX(seq) FROM items
		WHERE tenant_id = $1 AND conversation_id = $2 AND kind = $3`), o.Tenant, id, KindConversation).Scan(&last)
	if err != nil {
		return err
	}
	next := int64(0)
	if last.Valid {
		next = last.Int64 + 1
	}
	return s.insertItems(ctx, tx, o, KindConversation, "", id, next, items)
}

const responseColumns = `id, model, status, created_at, previous_response_id, conversation_id, instructions,
	request, output, usage, error, metadata, store, body, background, lease_until`

// GetResponse returns the owner's response.
func (s *Store) GetResponse(ctx context.Context, o Owner, id string) (*Response, error) {
	var (
		r                           Response
		created                     int64
		req, out, usage, meta, body string
		store, bg                   int
		lease                       int64
	)
	err := s.r.QueryRowContext(ctx, s.rebind(`SELECT `+responseColumns+` FROM responses
		WHERE tenant_id = $1 AND subject = $2 AND id = $3`), o.Tenant, o.Subject, id).Scan(
		&r.ID, &r.Model, &r.Status, &created, &r.PreviousResponseID, &r.ConversationID, &r.Instructions,
		&req, &out, &usage, &r.Error, &meta, &store, &body, &bg, &lease)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: get response %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get response %s: %w", id, err)
	}
	r.CreatedAt = fromMicros(created)
	r.Request, r.Output, r.Usage = json.RawMessage(req), json.RawMessage(out), json.RawMessage(usage)
	r.Metadata, r.Body = json.RawMessage(meta), json.RawMessage(body)
	r.Store = store != 0
	r.Background = bg != 0
	if lease != 0 {
		r.LeaseUntil = fromMicros(lease)
	}
	return &r, nil
}

// DeleteResponse deletes the owner's response with its own items and
// stream events. Items it added to a conversation stay there.
func (s *Store) DeleteResponse(ctx context.Context, o Owner, id string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete response %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM responses WHERE tenant_id = $1 AND subject = $2 AND id = $3`),
		o.Tenant, o.Subject, id)
	if err != nil {
		return fmt.Errorf("store: delete response %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return fmt.Errorf("store: delete response %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM items
		WHERE tenant_id = $1 AND subject = $2 AND response_id = $3 AND kind <> $4`),
		o.Tenant, o.Subject, id, KindConversation); err != nil {
		return fmt.Errorf("store: delete response %s items: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM response_events
		WHERE tenant_id = $1 AND subject = $2 AND response_id = $3`), o.Tenant, o.Subject, id); err != nil {
		return fmt.Errorf("store: delete response %s events: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete response %s: %w", id, err)
	}
	return nil
}

// ResponseItems lists the items of one kind (KindInput or KindOutput) of
// the owner's response, a page at a time. hasMore says whether more
// follow the page. A response that is not the owner's is ErrNotFound.
func (s *Store) ResponseItems(ctx context.Context, o Owner, id, kind string, p Page) (items []Item, hasMore bool, err error) {
	if _, err := s.GetResponse(ctx, o, id); err != nil {
		return nil, false, err
	}
	items, hasMore, err = s.listItems(ctx, o, "response_id", id, kind, p)
	if err != nil {
		return nil, false, fmt.Errorf("store: response %s items: %w", id, err)
	}
	return items, hasMore, nil
}

// ResponseEvents returns the stored stream events of the owner's
// response whose sequence number is above after (-1 for all).
func (s *Store) ResponseEvents(ctx context.Context, o Owner, id string, after int64) ([]json.RawMessage, error) {
	if _, err := s.GetResponse(ctx, o, id); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, s.rebind(`SELECT data FROM response_events
		WHERE tenant_id = $1 AND subject = $2 AND response_id = $3 AND seq > $4 ORDER BY seq`),
		o.Tenant, o.Subject, id, after)
	if err != nil {
		return nil, fmt.Errorf("store: response %s events: %w", id, err)
	}
	defer rows.Close()
	var out []json.RawMessage
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("store: response %s events: %w", id, err)
		}
		out = append(out, json.RawMessage(d))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: response %s events: %w", id, err)
	}
	return out, nil
}

// FindItem returns the owner's stored item with the given id, from any
// response or conversation.
func (s *Store) FindItem(ctx context.Context, o Owner, id string) (*Item, error) {
	var it Item
	var body string
	err := s.r.QueryRowContext(ctx, s.rebind(`SELECT id, type, body, response_id, seq FROM items
		WHERE tenant_id = $1 AND subject = $2 AND id = $3 ORDER BY kind LIMIT 1`), o.Tenant, o.Subject, id).Scan(
		&it.ID, &it.Type, &body, &it.ResponseID, &it.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: item %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: item %s: %w", id, err)
	}
	it.Body = json.RawMessage(body)
	return &it, nil
}

// OutputItem returns the output item id of one of the owner's responses:
// an item the runtime made, never one a client wrote (those are input or
// conversation items, whatever their id). ErrNotFound when there is none.
func (s *Store) OutputItem(ctx context.Context, o Owner, id string) (*Item, error) {
	var it Item
	var body string
	err := s.r.QueryRowContext(ctx, s.rebind(`SELECT id, type, body, response_id, seq FROM items
		WHERE tenant_id = $1 AND subject = $2 AND id = $3 AND kind = $4 LIMIT 1`), o.Tenant, o.Subject, id, KindOutput).Scan(
		&it.ID, &it.Type, &body, &it.ResponseID, &it.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: output item %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: output item %s: %w", id, err)
	}
	it.Body = json.RawMessage(body)
	return &it, nil
}

// listItems pages through the items whose column (response_id or
// conversation_id) is id, of the given kind, in seq order.
func (s *Store) listItems(ctx context.Context, o Owner, column, id, kind string, p Page) ([]Item, bool, error) {
	w := where{}
	w.add("tenant_id =", o.Tenant)
	w.add("subject =", o.Subject)
	w.add(column+" =", id)
	w.add("kind =", kind)
	if p.After != "" {
		var seq int64
		err := s.r.QueryRowContext(ctx, s.rebind(`SELECT seq FROM items WHERE tenant_id = $1 AND subject = $2 AND `+
			column+` = $3 AND kind = $4 AND id = $5`), o.Tenant, o.Subject, id, kind, p.After).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("item %s: %w", p.After, ErrCursor)
		}
		if err != nil {
			return nil, false, err
		}
		if p.Desc {
			w.add("seq <", seq)
		} else {
			w.add("seq >", seq)
		}
	}
	order := " ORDER BY seq"
	if p.Desc {
		order += " DESC"
	}
	q := `SELECT id, type, body, response_id, seq FROM items` + w.String() + order
	if p.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", p.Limit+1)
	}
	rows, err := s.r.QueryContext(ctx, s.rebind(q), w.args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var items []Item
	for rows.Next() {
		var it Item
		var body string
		if err := rows.Scan(&it.ID, &it.Type, &body, &it.ResponseID, &it.Seq); err != nil {
			return nil, false, err
		}
		it.Body = json.RawMessage(body)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := false
	if p.Limit > 0 && len(items) > p.Limit {
		items, more = items[:p.Limit], true
	}
	return items, more, nil
}

// CreateConversation stores a new conversation with its first items.
func (s *Store) CreateConversation(ctx context.Context, o Owner, c *Conversation, items []Item) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: create conversation: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO conversations (id, tenant_id, subject, created_at, metadata)
		VALUES ($1, $2, $3, $4, $5)`), c.ID, o.Tenant, o.Subject, micros(c.CreatedAt), rawOr(c.Metadata, "{}")); err != nil {
		return fmt.Errorf("store: create conversation %s: %w", c.ID, err)
	}
	if err := s.insertItems(ctx, tx, o, KindConversation, "", c.ID, 0, items); err != nil {
		return fmt.Errorf("store: create conversation %s: %w", c.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: create conversation %s: %w", c.ID, err)
	}
	return nil
}

// GetConversation returns the owner's conversation.
func (s *Store) GetConversation(ctx context.Context, o Owner, id string) (*Conversation, error) {
	var c Conversation
	var created int64
	var meta string
	err := s.r.QueryRowContext(ctx, s.rebind(`SELECT id, created_at, metadata FROM conversations
		WHERE tenant_id = $1 AND subject = $2 AND id = $3`), o.Tenant, o.Subject, id).Scan(&c.ID, &created, &meta)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: get conversation %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get conversation %s: %w", id, err)
	}
	c.CreatedAt = fromMicros(created)
	c.Metadata = json.RawMessage(meta)
	return &c, nil
}

// UpdateConversation replaces the metadata of the owner's conversation
// and returns it.
func (s *Store) UpdateConversation(ctx context.Context, o Owner, id string, metadata json.RawMessage) (*Conversation, error) {
	res, err := s.w.ExecContext(ctx, s.rebind(`UPDATE conversations SET metadata = $1
		WHERE tenant_id = $2 AND subject = $3 AND id = $4`), rawOr(metadata, "{}"), o.Tenant, o.Subject, id)
	if err != nil {
		return nil, fmt.Errorf("store: update conversation %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return nil, fmt.Errorf("store: update conversation %s: %w", id, err)
	}
	return s.GetConversation(ctx, o, id)
}

// DeleteConversation deletes the owner's conversation and everything
// that came of it, in one transaction: its items, the responses made in
// it with their own items and stored stream events, and the memories
// linked to it with their vectors. It returns how many rows of each it
// deleted. A conversation that is not the owner's is ErrNotFound and
// nothing is deleted.
func (s *Store) DeleteConversation(ctx context.Context, o Owner, id string) (Erased, error) {
	var e Erased
	if err := s.memoryIndexReady(ctx); err != nil {
		return e, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return e, fmt.Errorf("store: delete conversation %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM conversations WHERE tenant_id = $1 AND subject = $2 AND id = $3`),
		o.Tenant, o.Subject, id)
	if err != nil {
		return e, fmt.Errorf("store: delete conversation %s: %w", id, err)
	}
	if e.Conversations, err = res.RowsAffected(); err != nil || e.Conversations == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return Erased{}, fmt.Errorf("store: delete conversation %s: %w", id, err)
	}
	if err := s.unindexMemories(ctx, tx, `SELECT id FROM memories WHERE tenant_id = $1 AND subject = $2 AND conversation_id = $3`,
		o.Tenant, o.Subject, id); err != nil {
		return Erased{}, fmt.Errorf("store: delete conversation %s: memory index: %w", id, err)
	}
	// The responses' own rows go last: the statements before find what
	// to delete through them. The subqueries are scoped by the owner too.
	inResponses := func(n int) string {
		return fmt.Sprintf(`IN (SELECT id FROM responses WHERE tenant_id = $%d AND subject = $%d AND conversation_id = $%d)`, n, n+1, n+2)
	}
	for _, d := range []struct {
		what string
		q    string
		args []any
		n    *int64
	}{
		{"events", `DELETE FROM response_events WHERE tenant_id = $1 AND subject = $2 AND response_id ` + inResponses(3),
			[]any{o.Tenant, o.Subject, o.Tenant, o.Subject, id}, &e.Events},
		{"items", `DELETE FROM items WHERE tenant_id = $1 AND subject = $2 AND (conversation_id = $3 OR response_id ` + inResponses(4) + `)`,
			[]any{o.Tenant, o.Subject, id, o.Tenant, o.Subject, id}, &e.Items},
		{"vectors", `DELETE FROM memory_vectors WHERE tenant_id = $1 AND subject = $2 AND memory_id IN
			(SELECT id FROM memories WHERE tenant_id = $3 AND subject = $4 AND conversation_id = $5)`,
			[]any{o.Tenant, o.Subject, o.Tenant, o.Subject, id}, &e.Vectors},
		{"memories", `DELETE FROM memories WHERE tenant_id = $1 AND subject = $2 AND conversation_id = $3`,
			[]any{o.Tenant, o.Subject, id}, &e.Memories},
		{"responses", `DELETE FROM responses WHERE tenant_id = $1 AND subject = $2 AND conversation_id = $3`,
			[]any{o.Tenant, o.Subject, id}, &e.Responses},
	} {
		res, err := tx.ExecContext(ctx, s.rebind(d.q), d.args...)
		if err != nil {
			return Erased{}, fmt.Errorf("store: delete conversation %s %s: %w", id, d.what, err)
		}
		if *d.n, err = res.RowsAffected(); err != nil {
			return Erased{}, fmt.Errorf("store: delete conversation %s %s: %w", id, d.what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Erased{}, fmt.Errorf("store: delete conversation %s: %w", id, err)
	}
	return e, nil
}

// AddConversationItems appends items to the owner's conversation.
func (s *Store) AddConversationItems(ctx context.Context, o Owner, id string, items []Item) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: add conversation %s items: %w", id, err)
	}
	defer tx.Rollback()
	if fresh, err := s.newInConversation(ctx, tx, o, id, items); err != nil {
		return fmt.Errorf("store: add conversation %s items: %w", id, err)
	} else if len(fresh) != len(items) {
		return fmt.Errorf("store: add conversation %s items: an id is already there: %w", id, ErrConflict)
	}
	if err := s.appendConversation(ctx, tx, o, id, items); err != nil {
		return fmt.Errorf("store: add conversation %s items: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: add conversation %s items: %w", id, err)
	}
	return nil
}

// ConversationItems lists the items of the owner's conversation a page at
// a time; hasMore says whether more follow. A conversation that is not the
// owner's is ErrNotFound.
func (s *Store) ConversationItems(ctx context.Context, o Owner, id string, p Page) (items []Item, hasMore bool, err error) {
	if _, err := s.GetConversation(ctx, o, id); err != nil {
		return nil, false, err
	}
	items, hasMore, err = s.listItems(ctx, o, "conversation_id", id, KindConversation, p)
	if err != nil {
		return nil, false, fmt.Errorf("store: conversation %s items: %w", id, err)
	}
	return items, hasMore, nil
}

// ConversationItem returns one item of the owner's conversation.
func (s *Store) ConversationItem(ctx context.Context, o Owner, id, itemID string) (*Item, error) {
	var it Item
	var body string
	err := s.r.QueryRowContext(ctx, s.rebind(`SELECT id, type, body, response_id, seq FROM items
		WHERE tenant_id = $1 AND subject = $2 AND conversation_id = $3 AND kind = $4 AND id = $5`),
		o.Tenant, o.Subject, id, KindConversation, itemID).Scan(&it.ID, &it.Type, &body, &it.ResponseID, &it.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: conversation %s item %s: %w", id, itemID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: conversation %s item %s: %w", id, itemID, err)
	}
	it.Body = json.RawMessage(body)
	return &it, nil
}

// DeleteConversationItem deletes one item of the owner's conversation.
func (s *Store) DeleteConversationItem(ctx context.Context, o Owner, id, itemID string) error {
	res, err := s.w.ExecContext(ctx, s.rebind(`DELETE FROM items
		WHERE tenant_id = $1 AND subject = $2 AND conversation_id = $3 AND kind = $4 AND id = $5`),
		o.Tenant, o.Subject, id, KindConversation, itemID)
	if err != nil {
		return fmt.Errorf("store: delete conversation %s item %s: %w", id, itemID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return fmt.Errorf("store: delete conversation %s item %s: %w", id, itemID, err)
	}
	return nil
}
