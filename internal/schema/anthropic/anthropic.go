// Package anthropic holds the wire types of Anthropic's Messages API
// (POST /v1/messages, /v1/messages/count_tokens, streaming events and
// errors). It is schema only: the Anthropic front door, the Anthropic
// provider and the simulator share these definitions and nothing else.
package anthropic

import "encoding/json"

// Version is the anthropic-version this schema follows.
const Version = "2023-06-01"

// MessagesRequest is the body of POST /v1/messages.
type MessagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int             `json:"max_tokens"`
	Messages      []Message       `json:"messages"`
	System        json.RawMessage `json:"system,omitempty"` // a string or []ContentBlock (text blocks)
	Metadata      *Metadata       `json:"metadata,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopK          *int            `json:"top_k,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	Tools         []Tool          `json:"tools,omitempty"`
	ToolChoice    *ToolChoice     `json:"tool_choice,omitempty"`
	Thinking      *Thinking       `json:"thinking,omitempty"`
	ServiceTier   string          `json:"service_tier,omitempty"`
}

// CountTokensRequest is the body of POST /v1/messages/count_tokens.
type CountTokensRequest struct {
	Model      string          `json:"model"`
	Messages   []Message       `json:"messages"`
	System     json.RawMessage `json:"system,omitempty"`
	Tools      []Tool          `json:"tools,omitempty"`
	ToolChoice *ToolChoice     `json:"tool_choice,omitempty"`
	Thinking   *Thinking       `json:"thinking,omitempty"`
}

// CountTokensResponse is the answer of count_tokens.
type CountTokensResponse struct {
	InputTokens int64 `json:"input_tokens"`
}

// Metadata is the request metadata.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// Message is one turn. Content is a string or []ContentBlock.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// CacheControl is a prompt-caching breakpoint.
type CacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// ContentBlock is the union of content block types; Type says which
// fields apply:
//   - text: Text (Citations kept raw)
//   - image, document: Source
//   - tool_use (and server_tool_use): ID, Name, Input
//   - tool_result: ToolUseID, Content (a string or []ContentBlock), IsError
//   - thinking: Thinking, Signature
//   - redacted_thinking: Data
type ContentBlock struct {
	Type         string          `json:"type"`
	Text         *string         `json:"text,omitempty"`
	Source       *Source         `json:"source,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      json.RawMessage `json:"content,omitempty"`
	IsError      *bool           `json:"is_error,omitempty"`
	Thinking     *string         `json:"thinking,omitempty"`
	Signature    *string         `json:"signature,omitempty"`
	Data         string          `json:"data,omitempty"`
	Title        string          `json:"title,omitempty"`
	Citations    json.RawMessage `json:"citations,omitempty"`
	CacheControl *CacheControl   `json:"cache_control,omitempty"`
}

// Source is the source of an image or document block: Type "base64"
// (MediaType, Data), "url" (URL) or "text" (MediaType, Data).
type Source struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Tool is a client tool definition. Type is empty (or "custom") for
// function tools; Anthropic's server tools have other types.
type Tool struct {
	Type         string          `json:"type,omitempty"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	CacheControl *CacheControl   `json:"cache_control,omitempty"`
}

// ToolChoice is tool_choice: Type auto, any, tool (with Name) or none.
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use,omitempty"`
}

// Thinking configures extended thinking: Type "enabled" (BudgetTokens ≥
// 1024) or "disabled".
type Thinking struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

// MessagesResponse is a whole message (and message_start's message).
type MessagesResponse struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"` // "message"
	Role         string         `json:"role"` // "assistant"
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// Usage is Anthropic's usage object. InputTokens excludes cache reads and
// cache writes.
type Usage struct {
	InputTokens              int64  `json:"input_tokens"`
	OutputTokens             int64  `json:"output_tokens"`
	CacheCreationInputTokens int64  `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64  `json:"cache_read_input_tokens"`
	ServiceTier              string `json:"service_tier,omitempty"`
}

// Stream event types.
const (
	EventMessageStart      = "message_start"
	EventContentBlockStart = "content_block_start"
	EventContentBlockDelta = "content_block_delta"
	EventContentBlockStop  = "content_block_stop"
	EventMessageDelta      = "message_delta"
	EventMessageStop       = "message_stop"
	EventPing              = "ping"
	EventError             = "error"
)

// StreamEvent is the union of streaming events; Type says which fields
// apply. The SSE event name equals Type.
type StreamEvent struct {
	Type         string            `json:"type"`
	Message      *MessagesResponse `json:"message,omitempty"`       // message_start
	Index        *int              `json:"index,omitempty"`         // content_block_*
	ContentBlock *ContentBlock     `json:"content_block,omitempty"` // content_block_start
	Delta        *Delta            `json:"delta,omitempty"`         // content_block_delta, message_delta
	Usage        *DeltaUsage       `json:"usage,omitempty"`         // message_delta
	Error        *ErrorDetail      `json:"error,omitempty"`         // error
}

// Delta is a content block delta (Type text_delta, input_json_delta,
// thinking_delta, signature_delta, citations_delta) or a message delta
// (StopReason, StopSequence).
type Delta struct {
	Type         string  `json:"type,omitempty"`
	Text         string  `json:"text,omitempty"`
	PartialJSON  *string `json:"partial_json,omitempty"`
	Thinking     string  `json:"thinking,omitempty"`
	Signature    string  `json:"signature,omitempty"`
	StopReason   *string `json:"stop_reason,omitempty"`
	StopSequence *string `json:"stop_sequence,omitempty"`
}

// DeltaUsage is message_delta's usage: cumulative output tokens (and, on
// newer API versions, the input counts again).
type DeltaUsage struct {
	OutputTokens             int64  `json:"output_tokens"`
	InputTokens              *int64 `json:"input_tokens,omitempty"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens,omitempty"`
}

// ErrorBody is Anthropic's error envelope.
type ErrorBody struct {
	Type  string      `json:"type"` // "error"
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error object. Type is one of invalid_request_error
// (400), authentication_error (401), permission_error (403),
// not_found_error (404), request_too_large (413), rate_limit_error (429),
// api_error (500), overloaded_error (529).
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID          string `json:"id"`
	Type        string `json:"type"` // "model"
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

// ModelList is GET /v1/models.
type ModelList struct {
	Data    []Model `json:"data"`
	HasMore bool    `json:"has_more"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
}
