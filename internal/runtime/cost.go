package runtime

// Cost of a response and of a conversation, from the usage ledger: every
// model call and server-side tool call a response makes is recorded with
// its response and conversation ids (see Create and loop.exec).

import (
	"context"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
)

// Ledger reads the usage ledger; *store.Store has it.
type Ledger interface {
	UsageSummary(ctx context.Context, f billing.UsageFilter) (billing.Summary, error)
	UsageBreakdown(ctx context.Context, f billing.UsageFilter) ([]billing.Line, error)
}

// flusher is a meter that can write what it buffers now; *billing.Meter
// is one.
type flusher interface {
	Flush(ctx context.Context)
}

// Cost is the body of GET /v1/responses/{id}/cost and
// /v1/conversations/{id}/cost, Causeway extensions. Money is exact in
// total_cost_nano_usd (billionths of a dollar); the _usd figures are the
// same amounts as floats, for display.
type Cost struct {
	Object           string      `json:"object"` // "response.cost" or "conversation.cost"
	ID               string      `json:"id"`
	Currency         string      `json:"currency"`
	TotalCostNanoUSD int64       `json:"total_cost_nano_usd"`
	TotalCostUSD     float64     `json:"total_cost_usd"`
	InputTokens      int64       `json:"input_tokens"`
	OutputTokens     int64       `json:"output_tokens"`
	CachedTokens     int64       `json:"cached_tokens"`
	ReasoningTokens  int64       `json:"reasoning_tokens"`
	ModelCalls       int64       `json:"model_calls"`
	ToolCalls        int64       `json:"tool_calls"`
	ByModel          []ModelCost `json:"by_model"`
	ByTool           []ToolCost  `json:"by_tool"`
	// Responses counts the conversation's responses that made calls
	// (conversation cost only).
	Responses *int64 `json:"responses,omitempty"`
}

// ModelCost totals the upstream attempts made to one upstream model of
// one alias (a retried or failed-over call counts each attempt).
type ModelCost struct {
	Model           string  `json:"model"`
	Provider        string  `json:"provider"`
	UpstreamModel   string  `json:"upstream_model"`
	Endpoint        string  `json:"endpoint"`
	Calls           int64   `json:"calls"`
	Errors          int64   `json:"errors"`
	InputTokens     int64   `json:"input_tokens"`
	OutputTokens    int64   `json:"output_tokens"`
	CachedTokens    int64   `json:"cached_tokens"`
	ReasoningTokens int64   `json:"reasoning_tokens"`
	CostNanoUSD     int64   `json:"cost_nano_usd"`
	CostUSD         float64 `json:"cost_usd"`
}

// ToolCost counts the server-side calls of one tool (refused calls are
// not run and not counted).
type ToolCost struct {
	Tool   string `json:"tool"`
	Calls  int64  `json:"calls"`
	Errors int64  `json:"errors"`
}

// ResponseCost returns what the principal's response cost.
func (rt *Runtime) ResponseCost(ctx context.Context, p *identity.Principal, id string) (*Cost, error) {
	o := OwnerOf(p)
	if _, err := rt.Store.GetResponse(ctx, o, id); err != nil {
		return nil, mapStoreErr(err, "", *responseNotFound(id))
	}
	return rt.cost(ctx, "response.cost", id, billing.UsageFilter{Tenant: o.Tenant, ResponseID: id}, false)
}

// ConversationCost returns what the responses of the principal's
// conversation cost.
func (rt *Runtime) ConversationCost(ctx context.Context, p *identity.Principal, id string) (*Cost, error) {
	o := OwnerOf(p)
	if _, err := rt.Store.GetConversation(ctx, o, id); err != nil {
		return nil, mapStoreErr(err, "", conversationNotFound(id))
	}
	return rt.cost(ctx, "conversation.cost", id, billing.UsageFilter{Tenant: o.Tenant, ConversationID: id}, true)
}

func (rt *Runtime) cost(ctx context.Context, object, id string, f billing.UsageFilter, responses bool) (*Cost, error) {
	if rt.Ledger == nil {
		return nil, &llm.Error{Kind: llm.KindInvalid, Message: "Cost reports are not available on this gateway."}
	}
	// The meter writes in batches: write what it holds so that a response
	// that has just ended is counted whole.
	if fl, ok := rt.Meter.(flusher); ok {
		fl.Flush(ctx)
	}
	lines, err := rt.Ledger.UsageBreakdown(ctx, f)
	if err != nil {
		return nil, err
	}
	c := &Cost{Object: object, ID: id, Currency: "USD", ByModel: []ModelCost{}, ByTool: []ToolCost{}}
	tools := map[string]int{}
	for _, l := range lines {
		c.TotalCostNanoUSD += l.CostNanoUSD
		c.InputTokens += l.InputTokens
		c.OutputTokens += l.OutputTokens
		c.CachedTokens += l.CachedTokens
		c.ReasoningTokens += l.Reasoning
		if l.Endpoint == billing.EndpointTool {
			c.ToolCalls += l.Records
			// One tool's records differ only by the alias of the
			// response that called it: merge them.
			i, ok := tools[l.UpstreamModel]
			if !ok {
				i = len(c.ByTool)
				tools[l.UpstreamModel] = i
				c.ByTool = append(c.ByTool, ToolCost{Tool: l.UpstreamModel})
			}
			c.ByTool[i].Calls += l.Records
			c.ByTool[i].Errors += l.Errors
			continue
		}
		c.ModelCalls += l.Records
		c.ByModel = append(c.ByModel, ModelCost{Model: l.Alias, Provider: l.Provider, UpstreamModel: l.UpstreamModel,
			Endpoint: l.Endpoint, Calls: l.Records, Errors: l.Errors, InputTokens: l.InputTokens, OutputTokens: l.OutputTokens,
			CachedTokens: l.CachedTokens, ReasoningTokens: l.Reasoning, CostNanoUSD: l.CostNanoUSD, CostUSD: billing.USD(l.CostNanoUSD)})
	}
	c.TotalCostUSD = billing.USD(c.TotalCostNanoUSD)
	if responses {
		sum, err := rt.Ledger.UsageSummary(ctx, f)
		if err != nil {
			return nil, err
		}
		c.Responses = &sum.Responses
	}
	return c, nil
}
