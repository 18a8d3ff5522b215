// Package responses holds the wire types of OpenAI's Responses and
// Conversations APIs as Causeway serves them. Types only: no I/O, no
// translation logic.
package responses

import "encoding/json"

// CreateRequest is the body of POST /v1/responses. Union-typed fields are
// kept raw for the codec to decode.
type CreateRequest struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input,omitempty"`
	Instructions       *string           `json:"instructions,omitempty"`
	PreviousResponseID *string           `json:"previous_response_id,omitempty"`
	Conversation       json.RawMessage   `json:"conversation,omitempty"`
	Store              *bool             `json:"store,omitempty"`
	Stream             bool              `json:"stream,omitempty"`
	Tools              []json.RawMessage `json:"tools,omitempty"`
	ToolChoice         json.RawMessage   `json:"tool_choice,omitempty"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls,omitempty"`
	MaxOutputTokens    *int              `json:"max_output_tokens,omitempty"`
	Temperature        *float64          `json:"temperature,omitempty"`
	TopP               *float64          `json:"top_p,omitempty"`
	Text               *TextConfig       `json:"text,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	Reasoning          *Reasoning        `json:"reasoning,omitempty"`
	User               *string           `json:"user,omitempty"`
	SafetyIdentifier   *string           `json:"safety_identifier,omitempty"`
	Truncation         *string           `json:"truncation,omitempty"`
	Background         *bool             `json:"background,omitempty"`
	MaxToolCalls       *int              `json:"max_tool_calls,omitempty"`
	Include            []string          `json:"include,omitempty"`
	// Memory is Causeway's extension: recall long-term memories into the
	// context.
	Memory *MemoryOptions `json:"memory,omitempty"`
	// MaxCostUSD is Causeway's extension: the response's model calls stop
	// once they have cost this much (the response ends incomplete with
	// reason "max_cost"); it lowers, never raises, tools.max_response_cost_usd.
	MaxCostUSD *float64 `json:"max_cost_usd,omitempty"`
	// ContextManagement asks for server-side compaction of a long context
	// ([{type: "compaction", compact_threshold: N}]).
	ContextManagement []ContextManagement `json:"context_management,omitempty"`
}

// ContextManagement is one entry of a create request's
// context_management. The only type is "compaction".
type ContextManagement struct {
	Type string `json:"type"`
	// CompactThreshold is the estimated input size, in tokens, above
	// which the context is compacted before the model call.
	CompactThreshold *int64 `json:"compact_threshold,omitempty"`
}

// Compacted is the answer of POST /v1/responses/compact.
type Compacted struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	CreatedAt int64  `json:"created_at"`
	// Output is the compacted context: the turns kept verbatim, then one
	// compaction item that stands for everything before them.
	Output []Item `json:"output"`
	Usage  *Usage `json:"usage"`
}

// TextConfig is the text field: the output format.
type TextConfig struct {
	Format    *Format `json:"format,omitempty"`
	Verbosity string  `json:"verbosity,omitempty"`
}

// Format is text.format: text, json_object or json_schema.
type Format struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Reasoning is the reasoning field.
type Reasoning struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// FunctionTool is a tool of type "function".
type FunctionTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
	// RequireApproval ("always" or "never"), on a "causeway" tool: its
	// calls wait for a person's approval (mcp_approval_request). "never"
	// cannot lift an approval the configuration requires.
	RequireApproval string `json:"require_approval,omitempty"`
}

// Item is an input or output item. Only the fields of its Type are set.
type Item struct {
	ID     string `json:"id,omitempty"`
	Type   string `json:"type"`
	Status string `json:"status,omitempty"`
	// message
	Role    string          `json:"role,omitempty"`
	Content json.RawMessage `json:"content,omitempty"`
	// function_call and function_call_output
	CallID    string          `json:"call_id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments *string         `json:"arguments,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	// mcp_approval_request (with Name and Arguments) and
	// mcp_approval_response: a server-side tool call waiting for, and
	// given, a person's approval.
	// reasoning: the summary parts ([{type: "summary_text", text}]);
	// Causeway carries the provider's signature under causeway.
	Summary           json.RawMessage `json:"summary,omitempty"`
	ServerLabel       string          `json:"server_label,omitempty"`
	ApprovalRequestID string          `json:"approval_request_id,omitempty"`
	Approve           *bool           `json:"approve,omitempty"`
	Reason            *string         `json:"reason,omitempty"`
	// compaction: an opaque summary of the turns it replaces.
	EncryptedContent string `json:"encrypted_content,omitempty"`
	// Causeway is what Causeway adds to a server-side tool's items: the
	// tool's metadata (HTTP status …), or why a call was refused. It is
	// shown to the client, never to the model.
	Causeway json.RawMessage `json:"causeway,omitempty"`
}

// Part is a content part of a message.
type Part struct {
	Type        string          `json:"type"`
	Text        *string         `json:"text,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	Logprobs    json.RawMessage `json:"logprobs,omitempty"`
	ImageURL    string          `json:"image_url,omitempty"`
	FileID      string          `json:"file_id,omitempty"`
	Detail      string          `json:"detail,omitempty"`
	Refusal     *string         `json:"refusal,omitempty"`
}

// Response is the response object.
type Response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"`
	CreatedAt          int64              `json:"created_at"`
	CompletedAt        *int64             `json:"completed_at"`
	Status             string             `json:"status"`
	Background         bool               `json:"background"`
	Error              *Error             `json:"error"`
	IncompleteDetails  *IncompleteDetails `json:"incomplete_details"`
	Instructions       *string            `json:"instructions"`
	MaxOutputTokens    *int               `json:"max_output_tokens"`
	Model              string             `json:"model"`
	Output             []Item             `json:"output"`
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Conversation       *ConversationRef   `json:"conversation,omitempty"`
	Reasoning          Reasoning          `json:"reasoning"`
	ServiceTier        string             `json:"service_tier"`
	Store              bool               `json:"store"`
	Temperature        float64            `json:"temperature"`
	Text               TextConfig         `json:"text"`
	ToolChoice         json.RawMessage    `json:"tool_choice"`
	Tools              []json.RawMessage  `json:"tools"`
	TopP               float64            `json:"top_p"`
	Truncation         string             `json:"truncation"`
	Usage              *Usage             `json:"usage"`
	User               *string            `json:"user,omitempty"`
	SafetyIdentifier   *string            `json:"safety_identifier,omitempty"`
	Metadata           map[string]string  `json:"metadata"`
	MaxToolCalls       *int               `json:"max_tool_calls,omitempty"`
	// Causeway is what Causeway adds: the request ids of the response's
	// model calls (the usage ledger's request_id).
	Causeway *ResponseInfo `json:"causeway,omitempty"`
}

// ResponseInfo is a response's "causeway" field.
type ResponseInfo struct {
	RequestIDs []string `json:"request_ids"`
	// Memories are the ids of the long-term memories recalled into the
	// response's context.
	Memories []string `json:"memories,omitempty"`
	// Notes say what Causeway changed in the context on the way, such as
	// reasoning of another provider family left out.
	Notes []string `json:"notes,omitempty"`
}

// MemoryOptions is Causeway's "memory" extension of a create request:
// recall the caller's long-term memories that match the input, and put
// them in the model's context under a visible marker.
type MemoryOptions struct {
	// Namespace is the memory namespace to recall from ("default").
	Namespace string `json:"namespace,omitempty"`
	// K is how many memories to recall at most (default 5, max 20).
	K int `json:"k,omitempty"`
	// Extract, when false, opts the turn out of memory extraction (on
	// by default when an extraction model is configured).
	Extract *bool `json:"extract,omitempty"`
}

// ConversationRef names the conversation a response belongs to.
type ConversationRef struct {
	ID string `json:"id"`
}

// Error is a failed response's error.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete.
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// Usage is a response's token usage.
type Usage struct {
	InputTokens         int64               `json:"input_tokens"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int64               `json:"output_tokens"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int64               `json:"total_tokens"`
}

// InputTokensDetails breaks down input tokens.
type InputTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// OutputTokensDetails breaks down output tokens.
type OutputTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// Event is one streaming event. Only the fields of its Type are set; the
// int pointers let a zero index still be sent.
type Event struct {
	Type           string    `json:"type"`
	SequenceNumber int64     `json:"sequence_number"`
	Response       *Response `json:"response,omitempty"`
	OutputIndex    *int      `json:"output_index,omitempty"`
	ItemID         string    `json:"item_id,omitempty"`
	ContentIndex   *int      `json:"content_index,omitempty"`
	SummaryIndex   *int      `json:"summary_index,omitempty"`
	Item           *Item     `json:"item,omitempty"`
	Part           *Part     `json:"part,omitempty"`
	Delta          *string   `json:"delta,omitempty"`
	Text           *string   `json:"text,omitempty"`
	Refusal        *string   `json:"refusal,omitempty"`
	Arguments      *string   `json:"arguments,omitempty"`
	Name           string    `json:"name,omitempty"`
	Logprobs       *[]any    `json:"logprobs,omitempty"`
	// error events
	Code    *string `json:"code,omitempty"`
	Message string  `json:"message,omitempty"`
	// Param is JSON: an error event always carries it, null when the
	// error names no parameter.
	Param json.RawMessage `json:"param,omitempty"`
}

// Deleted answers a DELETE.
type Deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// List is a cursor page of items.
type List struct {
	Object  string            `json:"object"`
	Data    []json.RawMessage `json:"data"`
	FirstID *string           `json:"first_id"`
	LastID  *string           `json:"last_id"`
	HasMore bool              `json:"has_more"`
}

// Conversation is the conversation object.
type Conversation struct {
	ID        string            `json:"id"`
	Object    string            `json:"object"`
	CreatedAt int64             `json:"created_at"`
	Metadata  map[string]string `json:"metadata"`
}

// ConversationCreate is the body of POST /v1/conversations.
type ConversationCreate struct {
	Items    []json.RawMessage `json:"items,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// ConversationUpdate is the body of POST /v1/conversations/{id}.
type ConversationUpdate struct {
	Metadata map[string]string `json:"metadata"`
}

// ItemsCreate is the body of POST /v1/conversations/{id}/items.
type ItemsCreate struct {
	Items []json.RawMessage `json:"items"`
}
