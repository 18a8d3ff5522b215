package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

// tied is a record of response resp in conversation conv.
func tied(n, attempt int, resp, conv string, cost int64) billing.Record {
	r := rec(n, attempt, "k1", "team-a", "alice", t0.Add(time.Duration(n)*time.Second), cost)
	r.ResponseID, r.ConversationID = resp, conv
	return r
}

// toolRec is a server-side tool call's record of response resp.
func toolRec(n, attempt int, resp, conv, name, status string) billing.Record {
	r := tied(n, attempt, resp, conv, 0)
	r.Endpoint, r.Provider, r.UpstreamModel, r.Status = billing.EndpointTool, "tool", name, status
	r.InputTokens, r.OutputTokens = 0, 0
	return r
}

// ledger writes: response A (conversation C) with two model calls on two
// aliases and two tool calls, one failed; response B (conversation C) with
// one call; response D outside a conversation; a record of no response;
// and another tenant's record of response A's id.
func ledger(t *testing.T, s *store.Store) {
	t.Helper()
	b := tied(3, 1, "resp_B", "conv_C", 300)
	b.Alias, b.Provider, b.UpstreamModel = "sim-anthropic", "anthropic", "claude"
	other := tied(9, 1, "resp_A", "conv_C", 100_000)
	other.Tenant = "t2"
	rs := []billing.Record{
		tied(1, 1, "resp_A", "conv_C", 100),
		tied(2, 1, "resp_A", "conv_C", 200),
		toolRec(1, 1001, "resp_A", "conv_C", "calc", billing.StatusOK),
		toolRec(1, 1002, "resp_A", "conv_C", "calc", billing.StatusError),
		b,
		tied(4, 1, "resp_D", "", 400),
		rec(5, 1, "k1", "team-a", "alice", t0, 500),
		other,
	}
	if err := s.InsertUsage(t.Context(), rs); err != nil {
		t.Fatalf("InsertUsage: %v", err)
	}
}

func TestUsageTiedToResponse(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ledger(t, s)
		ctx := t.Context()
		got, err := s.ListUsage(ctx, billing.UsageFilter{Tenant: "t1", ResponseID: "resp_A"}, 0)
		if err != nil {
			t.Fatalf("ListUsage: %v", err)
		}
		if len(got) != 4 {
			t.Fatalf("ListUsage(resp_A) = %d records, want 4", len(got))
		}
		for _, r := range got {
			if r.ResponseID != "resp_A" || r.ConversationID != "conv_C" || r.Tenant != "t1" {
				t.Errorf("record %s/%d tied to %q/%q of %s, want resp_A/conv_C of t1", r.RequestID, r.Attempt, r.ResponseID, r.ConversationID, r.Tenant)
			}
		}
		w := tied(2, 1, "resp_A", "conv_C", 200)
		w.StartedAt = w.StartedAt.Truncate(time.Microsecond)
		if !reflect.DeepEqual(got[1], w) && !reflect.DeepEqual(got[0], w) {
			t.Errorf("ListUsage(resp_A) lacks the round-tripped record %+v; got %+v", w, got)
		}

		tests := []struct {
			name string
			f    billing.UsageFilter
			want billing.Summary
		}{
			{"response", billing.UsageFilter{Tenant: "t1", ResponseID: "resp_A"},
				billing.Summary{Requests: 2, Responses: 1, InputTokens: 200, OutputTokens: 20, CostNanoUSD: 300}},
			{"conversation", billing.UsageFilter{Tenant: "t1", ConversationID: "conv_C"},
				billing.Summary{Requests: 3, Responses: 2, InputTokens: 300, OutputTokens: 30, CostNanoUSD: 600}},
			{"tenant", billing.UsageFilter{Tenant: "t1"},
				billing.Summary{Requests: 5, Responses: 3, InputTokens: 500, OutputTokens: 50, CostNanoUSD: 1500}},
			{"other tenant's response", billing.UsageFilter{Tenant: "t2", ResponseID: "resp_A"},
				billing.Summary{Requests: 1, Responses: 1, InputTokens: 100, OutputTokens: 10, CostNanoUSD: 100_000}},
			{"no such response", billing.UsageFilter{Tenant: "t1", ResponseID: "resp_X"}, billing.Summary{}},
		}
		for _, tc := range tests {
			if got := summary(t, s, tc.f); got != tc.want {
				t.Errorf("%s: UsageSummary = %+v, want %+v", tc.name, got, tc.want)
			}
		}
	})
}

func TestUsageBreakdown(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ledger(t, s)
		got, err := s.UsageBreakdown(t.Context(), billing.UsageFilter{Tenant: "t1", ConversationID: "conv_C"})
		if err != nil {
			t.Fatalf("UsageBreakdown: %v", err)
		}
		want := []billing.Line{
			{Endpoint: "chat", Alias: "gpt-mini", Provider: "openai", UpstreamModel: "gpt-4o-mini",
				Records: 2, InputTokens: 200, OutputTokens: 20, CostNanoUSD: 300},
			{Endpoint: "chat", Alias: "sim-anthropic", Provider: "anthropic", UpstreamModel: "claude",
				Records: 1, InputTokens: 100, OutputTokens: 10, CostNanoUSD: 300},
			{Endpoint: "tool", Alias: "gpt-mini", Provider: "tool", UpstreamModel: "calc", Records: 2, Errors: 1},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("UsageBreakdown(conv_C):\n got %+v\nwant %+v", got, want)
		}
		if _, err := s.UsageBreakdown(t.Context(), billing.UsageFilter{ResponseID: "resp_A"}); err == nil {
			t.Error("UsageBreakdown without a tenant: no error")
		}
	})
}

func TestUsageGroups(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ledger(t, s)
		ctx := t.Context()
		tests := []struct {
			by   string
			f    billing.UsageFilter
			want []billing.Group
		}{
			{billing.GroupResponse, billing.UsageFilter{Tenant: "t1"}, []billing.Group{
				{Key: "resp_D", Requests: 1, Records: 1, InputTokens: 100, OutputTokens: 10, CostNanoUSD: 400},
				{Key: "resp_A", Requests: 2, Records: 4, Errors: 1, InputTokens: 200, OutputTokens: 20, CostNanoUSD: 300},
				{Key: "resp_B", Requests: 1, Records: 1, InputTokens: 100, OutputTokens: 10, CostNanoUSD: 300},
			}},
			{billing.GroupConversation, billing.UsageFilter{Tenant: "t1"}, []billing.Group{
				{Key: "conv_C", Requests: 3, Records: 5, Errors: 1, InputTokens: 300, OutputTokens: 30, CostNanoUSD: 600},
			}},
			{billing.GroupTool, billing.UsageFilter{Tenant: "t1"}, []billing.Group{
				{Key: "calc", Requests: 1, Records: 2, Errors: 1},
			}},
			{billing.GroupModel, billing.UsageFilter{Tenant: "t1", ConversationID: "conv_C"}, []billing.Group{
				{Key: "gpt-mini", Requests: 2, Records: 4, Errors: 1, InputTokens: 200, OutputTokens: 20, CostNanoUSD: 300},
				{Key: "sim-anthropic", Requests: 1, Records: 1, InputTokens: 100, OutputTokens: 10, CostNanoUSD: 300},
			}},
			{billing.GroupConversation, billing.UsageFilter{Tenant: "t3"}, nil},
		}
		for _, tc := range tests {
			got, err := s.UsageGroups(ctx, tc.f, tc.by, 0)
			if err != nil {
				t.Fatalf("UsageGroups(%s): %v", tc.by, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("UsageGroups(%s, %+v):\n got %+v\nwant %+v", tc.by, tc.f, got, tc.want)
			}
		}
		got, err := s.UsageGroups(ctx, billing.UsageFilter{Tenant: "t1"}, billing.GroupResponse, 1)
		if err != nil || len(got) != 1 || got[0].Key != "resp_D" {
			t.Errorf("UsageGroups(response, limit 1) = %+v, %v; want resp_D only", got, err)
		}
		if _, err := s.UsageGroups(ctx, billing.UsageFilter{Tenant: "t1"}, "tenant_id; DROP TABLE usage", 0); err == nil {
			t.Error("UsageGroups(unknown dimension): no error")
		}
	})
}
