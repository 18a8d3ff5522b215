// Package billing prices usage and keeps the ledger of what every upstream
// attempt cost. Money is held as int64 billionths of a US dollar (nano-USD)
// so sums are exact.
package billing

import "time"

// NanoPerUSD converts US dollars to nano-USD.
const NanoPerUSD = 1_000_000_000

// USD converts nano-USD to dollars for display.
func USD(nano int64) float64 { return float64(nano) / NanoPerUSD }

// FromUSD converts dollars to nano-USD, rounding to the nearest.
func FromUSD(usd float64) int64 {
	if usd < 0 {
		return -int64(-usd*NanoPerUSD + 0.5)
	}
	return int64(usd*NanoPerUSD + 0.5)
}

// Status values of a usage record.
const (
	StatusOK       = "ok"       // the attempt completed
	StatusError    = "error"    // the attempt failed before or without output
	StatusPartial  = "partial"  // output was produced, then the attempt failed
	StatusCanceled = "canceled" // the client went away; usage is what upstream produced
)

// Record is one upstream attempt's usage. (RequestID, Attempt) is unique:
// writing the same record twice never double-counts.
type Record struct {
	RequestID     string        `json:"request_id"`
	Attempt       int           `json:"attempt"`
	Tenant        string        `json:"tenant"`
	KeyID         string        `json:"key_id"`
	Team          string        `json:"team,omitempty"`
	User          string        `json:"user,omitempty"`
	Endpoint      string        `json:"endpoint"` // "chat", "embeddings" or "tool"
	Alias         string        `json:"model"`
	Provider      string        `json:"provider"`
	UpstreamModel string        `json:"upstream_model"`
	InputTokens   int64         `json:"input_tokens"`
	OutputTokens  int64         `json:"output_tokens"`
	CachedTokens  int64         `json:"cached_tokens"`
	CacheWrite    int64         `json:"cache_write_tokens"`
	Reasoning     int64         `json:"reasoning_tokens"`
	CostNanoUSD   int64         `json:"-"`
	Status        string        `json:"status"`
	HTTPStatus    int           `json:"http_status"`
	ErrorKind     string        `json:"error_kind,omitempty"`
	Streamed      bool          `json:"streamed"`
	StartedAt     time.Time     `json:"started_at"`
	Latency       time.Duration `json:"-"`
	TTFT          time.Duration `json:"-"`
	// ResponseID and ConversationID tie the record to the response (and
	// its conversation) that made the call, when one did.
	ResponseID     string `json:"response_id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
}

// EndpointTool marks a server-side tool call's record: its
// UpstreamModel is the tool's name, and it costs nothing itself.
const EndpointTool = "tool"

// UsageFilter selects usage records. Tenant is required; zero values of
// the others match everything.
type UsageFilter struct {
	Tenant string
	KeyID  string
	Team   string
	User   string
	From   time.Time
	To     time.Time
	// ResponseID and ConversationID select the records of one response
	// or one conversation.
	ResponseID     string
	ConversationID string
}

// Summary totals usage records.
type Summary struct {
	Requests int64 `json:"requests"`
	// Responses counts the distinct responses the records belong to.
	Responses    int64 `json:"responses"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	CostNanoUSD  int64 `json:"-"`
}

// Line totals the records of one kind of call: one endpoint, model alias,
// provider and upstream model (for tool calls, the tool's name).
type Line struct {
	Endpoint      string
	Alias         string
	Provider      string
	UpstreamModel string
	// Records counts the records (upstream attempts, or tool calls);
	// Errors those whose status is not ok.
	Records      int64
	Errors       int64
	InputTokens  int64
	OutputTokens int64
	CachedTokens int64
	Reasoning    int64
	CostNanoUSD  int64
}

// Group totals the records sharing one value of a grouping dimension.
type Group struct {
	Key          string
	Requests     int64
	Records      int64
	Errors       int64
	InputTokens  int64
	OutputTokens int64
	CostNanoUSD  int64
}

// Dimensions the ledger can be grouped by.
const (
	GroupResponse     = "response"
	GroupConversation = "conversation"
	GroupTool         = "tool"
	GroupModel        = "model"
	GroupKey          = "key"
	GroupUser         = "user"
)
