package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
)

const usageColumns = `request_id, attempt, tenant_id, key_id, team, user_name,
	endpoint, alias, provider, upstream_model,
	input_tokens, output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens,
	cost_nano_usd, status, http_status, error_kind, streamed,
	started_at, latency_us, ttft_us, response_id, conversation_id`

// usageArity is the number of columns in usageColumns.
const usageArity = 25

// usageChunk is the most rows one INSERT carries: 250 × 25 = 6,250
// parameters, well under SQLite's 32,766 and PostgreSQL's 65,535.
const usageChunk = 250

// The INSERT of a full chunk, built once per placeholder style.
var (
	insertUsageFull           = insertUsageSQL(usageChunk)
	insertUsageFullPositional = rebindPositional(insertUsageFull)
)

// insertUsageSQL returns a multi-row INSERT of n usage records that skips
// records already in the ledger.
func insertUsageSQL(n int) string {
	var b strings.Builder
	b.Grow(120 + n*usageArity*6)
	b.WriteString("INSERT INTO usage (")
	b.WriteString(usageColumns)
	b.WriteString(") VALUES ")
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range usageArity {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT (request_id, attempt) DO NOTHING")
	return b.String()
}

// InsertUsage writes usage records to the ledger in one transaction. It is
// idempotent: a record whose (RequestID, Attempt) is already stored is
// skipped, never counted twice, so a batch may be retried whole after an
// error. Every record needs a Tenant.
func (s *Store) InsertUsage(ctx context.Context, recs []billing.Record) error {
	if len(recs) == 0 {
		return nil
	}
	for i := range recs {
		if recs[i].Tenant == "" || recs[i].RequestID == "" {
			return fmt.Errorf("store: insert usage: record %d: tenant and request id are required", i)
		}
	}
	// Insert in key order, so that concurrent batches with overlapping
	// records lock them in the same order and cannot deadlock on PostgreSQL.
	recs = slices.SortedFunc(slices.Values(recs), func(a, b billing.Record) int {
		return cmp.Or(strings.Compare(a.RequestID, b.RequestID), cmp.Compare(a.Attempt, b.Attempt))
	})

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: insert usage: %w", err)
	}
	defer tx.Rollback()
	if s.dialect == DialectSQLite {
		// SQLite runs in-process: a prepared one-row INSERT stepped once
		// per record costs less than parsing a fresh multi-row statement.
		stmt := tx.StmtContext(ctx, s.insertOne)
		for i := range recs {
			r := &recs[i]
			if _, err := stmt.ExecContext(ctx, usageArgs(r)...); err != nil {
				return fmt.Errorf("store: insert usage: %w", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: insert usage: %w", err)
		}
		return nil
	}
	args := make([]any, 0, len(s.bulkExec)+min(len(recs), usageChunk)*usageArity)
	for chunk := range slices.Chunk(recs, usageChunk) {
		var query string
		switch {
		case len(chunk) < usageChunk:
			query = s.rebind(insertUsageSQL(len(chunk)))
		case s.dialect == DialectSQLite:
			query = insertUsageFullPositional
		default:
			query = insertUsageFull
		}
		args = append(args[:0], s.bulkExec...)
		for i := range chunk {
			r := &chunk[i]
			streamed := 0
			if r.Streamed {
				streamed = 1
			}
			args = append(args,
				r.RequestID, r.Attempt, r.Tenant, r.KeyID, r.Team, r.User,
				r.Endpoint, r.Alias, r.Provider, r.UpstreamModel,
				r.InputTokens, r.OutputTokens, r.CachedTokens, r.CacheWrite, r.Reasoning,
				r.CostNanoUSD, r.Status, r.HTTPStatus, r.ErrorKind, streamed,
				micros(r.StartedAt), r.Latency.Microseconds(), r.TTFT.Microseconds(),
				r.ResponseID, r.ConversationID)
		}
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("store: insert usage: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: insert usage: %w", err)
	}
	return nil
}

func usageArgs(r *billing.Record) []any {
	streamed := 0
	if r.Streamed {
		streamed = 1
	}
	return []any{
		r.RequestID, r.Attempt, r.Tenant, r.KeyID, r.Team, r.User,
		r.Endpoint, r.Alias, r.Provider, r.UpstreamModel,
		r.InputTokens, r.OutputTokens, r.CachedTokens, r.CacheWrite, r.Reasoning,
		r.CostNanoUSD, r.Status, r.HTTPStatus, r.ErrorKind, streamed,
		micros(r.StartedAt), r.Latency.Microseconds(), r.TTFT.Microseconds(),
		r.ResponseID, r.ConversationID}
}

// usageWhere turns a filter into a WHERE clause. The tenant is required:
// no query reads across tenants.
func usageWhere(f billing.UsageFilter) (*where, error) {
	if f.Tenant == "" {
		return nil, fmt.Errorf("tenant is required")
	}
	w := &where{}
	w.add("tenant_id =", f.Tenant)
	if f.KeyID != "" {
		w.add("key_id =", f.KeyID)
	}
	if f.Team != "" {
		w.add("team =", f.Team)
	}
	if f.User != "" {
		w.add("user_name =", f.User)
	}
	if f.ResponseID != "" {
		w.add("response_id =", f.ResponseID)
	}
	if f.ConversationID != "" {
		w.add("conversation_id =", f.ConversationID)
	}
	if !f.From.IsZero() {
		w.add("started_at >=", micros(f.From))
	}
	if !f.To.IsZero() {
		w.add("started_at <", micros(f.To))
	}
	return w, nil
}

// UsageSummary totals the tenant's usage records that match f. Requests
// counts distinct request ids, so retried attempts count once; tokens and
// cost sum over every attempt. From is inclusive, To exclusive, both to the
// microsecond.
func (s *Store) UsageSummary(ctx context.Context, f billing.UsageFilter) (billing.Summary, error) {
	w, err := usageWhere(f)
	if err != nil {
		return billing.Summary{}, fmt.Errorf("store: usage summary: %w", err)
	}
	// SUM of BIGINT is NUMERIC on PostgreSQL; cast back so both dialects
	// scan into int64.
	var sum billing.Summary
	err = s.r.QueryRowContext(ctx, s.rebind(`SELECT COUNT(DISTINCT request_id),
		COUNT(DISTINCT NULLIF(response_id, '')),
		CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(cost_nano_usd), 0) AS BIGINT)
		FROM usage`+w.String()), w.args...).
		Scan(&sum.Requests, &sum.Responses, &sum.InputTokens, &sum.OutputTokens, &sum.CostNanoUSD)
	if err != nil {
		return billing.Summary{}, fmt.Errorf("store: usage summary: %w", err)
	}
	return sum, nil
}

// SpendByKey returns what the tenant's key has cost in total, in nano-USD:
// the sum of the ledger, 0 when it has none.
func (s *Store) SpendByKey(ctx context.Context, tenant, keyID string) (int64, error) {
	var spend int64
	err := s.r.QueryRowContext(ctx, s.rebind(`SELECT CAST(COALESCE(SUM(cost_nano_usd), 0) AS BIGINT)
		FROM usage WHERE tenant_id = $1 AND key_id = $2`), tenant, keyID).Scan(&spend)
	if err != nil {
		return 0, fmt.Errorf("store: spend by key %s: %w", keyID, err)
	}
	return spend, nil
}

// ListUsage returns up to limit of the tenant's usage records that match
// f, newest first. A limit of 0 or less means 100.
func (s *Store) ListUsage(ctx context.Context, f billing.UsageFilter, limit int) ([]billing.Record, error) {
	w, err := usageWhere(f)
	if err != nil {
		return nil, fmt.Errorf("store: list usage: %w", err)
	}
	if limit <= 0 {
		limit = 100
	}
	args := append(w.args, limit)
	rows, err := s.r.QueryContext(ctx, s.rebind(`SELECT `+usageColumns+` FROM usage`+w.String()+
		fmt.Sprintf(` ORDER BY started_at DESC, request_id DESC, attempt DESC LIMIT $%d`, len(args))),
		args...)
	if err != nil {
		return nil, fmt.Errorf("store: list usage: %w", err)
	}
	defer rows.Close()
	var recs []billing.Record
	for rows.Next() {
		var (
			r                      billing.Record
			streamed               int
			started, latency, ttft int64
		)
		if err := rows.Scan(&r.RequestID, &r.Attempt, &r.Tenant, &r.KeyID, &r.Team, &r.User,
			&r.Endpoint, &r.Alias, &r.Provider, &r.UpstreamModel,
			&r.InputTokens, &r.OutputTokens, &r.CachedTokens, &r.CacheWrite, &r.Reasoning,
			&r.CostNanoUSD, &r.Status, &r.HTTPStatus, &r.ErrorKind, &streamed,
			&started, &latency, &ttft, &r.ResponseID, &r.ConversationID); err != nil {
			return nil, fmt.Errorf("store: list usage: %w", err)
		}
		r.Streamed = streamed != 0
		r.StartedAt = fromMicros(started)
		r.Latency = time.Duration(latency) * time.Microsecond
		r.TTFT = time.Duration(ttft) * time.Microsecond
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list usage: %w", err)
	}
	return recs, nil
}

// UsageBreakdown totals the tenant's usage records that match f by kind
// of call: endpoint, alias, provider and upstream model, in that order.
func (s *Store) UsageBreakdown(ctx context.Context, f billing.UsageFilter) ([]billing.Line, error) {
	w, err := usageWhere(f)
	if err != nil {
		return nil, fmt.Errorf("store: usage breakdown: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, s.rebind(`SELECT endpoint, alias, provider, upstream_model,
		COUNT(*), CAST(COALESCE(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(reasoning_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(cost_nano_usd), 0) AS BIGINT)
		FROM usage`+w.String()+`
		GROUP BY endpoint, alias, provider, upstream_model
		ORDER BY endpoint, alias, provider, upstream_model`), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: usage breakdown: %w", err)
	}
	defer rows.Close()
	var lines []billing.Line
	for rows.Next() {
		var l billing.Line
		if err := rows.Scan(&l.Endpoint, &l.Alias, &l.Provider, &l.UpstreamModel, &l.Records, &l.Errors,
			&l.InputTokens, &l.OutputTokens, &l.CachedTokens, &l.Reasoning, &l.CostNanoUSD); err != nil {
			return nil, fmt.Errorf("store: usage breakdown: %w", err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: usage breakdown: %w", err)
	}
	return lines, nil
}

// groupColumns maps a grouping dimension to its column. Grouping by tool
// keeps only tool calls' records; by response or conversation, only the
// records made for one.
var groupColumns = map[string]string{
	billing.GroupResponse:     "response_id",
	billing.GroupConversation: "conversation_id",
	billing.GroupTool:         "upstream_model",
	billing.GroupModel:        "alias",
	billing.GroupKey:          "key_id",
	billing.GroupUser:         "user_name",
}

// UsageGroups totals the tenant's usage records that match f, one group
// per value of the dimension by (a billing.Group* name), costliest first,
// at most limit groups (100 when limit is 0 or less).
func (s *Store) UsageGroups(ctx context.Context, f billing.UsageFilter, by string, limit int) ([]billing.Group, error) {
	col, ok := groupColumns[by]
	if !ok {
		return nil, fmt.Errorf("store: usage groups: unknown dimension %q", by)
	}
	w, err := usageWhere(f)
	if err != nil {
		return nil, fmt.Errorf("store: usage groups: %w", err)
	}
	switch by {
	case billing.GroupTool:
		w.add("endpoint =", billing.EndpointTool)
	case billing.GroupResponse, billing.GroupConversation:
		w.add(col+" <>", "")
	}
	if limit <= 0 {
		limit = 100
	}
	args := append(w.args, limit)
	rows, err := s.r.QueryContext(ctx, s.rebind(`SELECT `+col+`, COUNT(DISTINCT request_id), COUNT(*),
		CAST(COALESCE(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(cost_nano_usd), 0) AS BIGINT) AS cost
		FROM usage`+w.String()+`
		GROUP BY `+col+fmt.Sprintf(` ORDER BY cost DESC, %s LIMIT $%d`, col, len(args))), args...)
	if err != nil {
		return nil, fmt.Errorf("store: usage groups: %w", err)
	}
	defer rows.Close()
	var groups []billing.Group
	for rows.Next() {
		var g billing.Group
		if err := rows.Scan(&g.Key, &g.Requests, &g.Records, &g.Errors, &g.InputTokens, &g.OutputTokens, &g.CostNanoUSD); err != nil {
			return nil, fmt.Errorf("store: usage groups: %w", err)
		}
		groups = append(groups, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: usage groups: %w", err)
	}
	return groups, nil
}
