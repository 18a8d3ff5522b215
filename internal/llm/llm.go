// Package llm is Causeway's one canonical request/response model. Every
// front door decodes its wire format into these types and every provider
// encodes them into its upstream's wire format; they meet nowhere else.
//
// This package holds types only: it performs no I/O and imports nothing of
// Causeway's.
package llm

import (
	"encoding/json"
	"time"
)

// Role is the author of a message.
type Role string

const (
	RoleSystem    Role = "system"
	RoleDeveloper Role = "developer"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// PartType says what a content part carries.
type PartType string

const (
	PartText  PartType = "text"
	PartImage PartType = "image"
	PartAudio PartType = "audio"
	PartFile  PartType = "file"
	// PartThinking is an assistant's reasoning text (Text) with the
	// provider's Signature, replayed only to the same provider family.
	PartThinking PartType = "thinking"
	// PartRedactedThinking is encrypted reasoning (Data), replayed only to
	// the same provider family.
	PartRedactedThinking PartType = "redacted_thinking"
)

// CacheControl marks a prompt-caching breakpoint (Anthropic's
// cache_control; Bedrock's cachePoint).
type CacheControl struct {
	// Type is "ephemeral".
	Type string `json:"type"`
	// TTL is the cache lifetime such as "5m" or "1h"; empty means the
	// provider default.
	TTL string `json:"ttl,omitempty"`
}

// Part is one piece of a message's content.
type Part struct {
	Type PartType `json:"type"`
	Text string   `json:"text,omitempty"`
	// ImageURL is an http(s) URL or a data: URL for image parts.
	ImageURL string `json:"image_url,omitempty"`
	// Detail is the image detail hint ("auto", "low", "high").
	Detail string `json:"detail,omitempty"`
	// Data holds inline bytes as base64 for audio and file parts.
	Data string `json:"data,omitempty"`
	// Format is the media format of Data (e.g. "wav", "mp3") or a MIME type.
	Format string `json:"format,omitempty"`
	// Filename names a file part.
	Filename string `json:"filename,omitempty"`
	// FileID references an upstream file for file parts.
	FileID string `json:"file_id,omitempty"`
	// MediaType is the MIME type of inline data (images as base64 in
	// Data rather than ImageURL, documents), e.g. "image/png".
	MediaType string `json:"media_type,omitempty"`
	// Signature authenticates a thinking part to the provider that made it.
	Signature string `json:"signature,omitempty"`
	// Origin is the provider family (gateway.Family) that made a thinking
	// part; a provider of another family drops it rather than send
	// reasoning it cannot verify. Empty means unknown: sent as given.
	Origin string `json:"origin,omitempty"`
	// CacheControl marks a prompt-caching breakpoint after this part.
	CacheControl *CacheControl `json:"cache_control,omitempty"`
}

// Message is one turn of a conversation.
type Message struct {
	Role Role `json:"role"`
	// Content is the message's parts, in order. A plain-text message is one
	// text part.
	Content []Part `json:"content,omitempty"`
	// Name is an optional participant name.
	Name string `json:"name,omitempty"`
	// ToolCalls are the calls an assistant message makes.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID links a tool message to the call it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// ToolName is the name of the function a tool message answers, when
	// the door knows it (Gemini needs it; OpenAI does not send it).
	ToolName string `json:"tool_name,omitempty"`
	// IsError marks a tool result that reports a failure.
	IsError bool `json:"is_error,omitempty"`
	// Refusal is an assistant's refusal text.
	Refusal string `json:"refusal,omitempty"`
	// TextOnly records that Content was sent as a plain string rather than
	// an array of parts, so a codec of the same family can round-trip it.
	TextOnly bool `json:"-"`
}

// Text returns the concatenated text parts of the message.
func (m *Message) Text() string {
	if len(m.Content) == 1 && m.Content[0].Type == PartText {
		return m.Content[0].Text
	}
	var n int
	for _, p := range m.Content {
		if p.Type == PartText {
			n += len(p.Text)
		}
	}
	b := make([]byte, 0, n)
	for _, p := range m.Content {
		if p.Type == PartText {
			b = append(b, p.Text...)
		}
	}
	return string(b)
}

// TextMessage builds a single-part text message.
func TextMessage(role Role, text string) Message {
	return Message{Role: role, Content: []Part{{Type: PartText, Text: text}}, TextOnly: true}
}

// Tool is a function the model may call.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	// CacheControl marks a prompt-caching breakpoint after this tool.
	CacheControl *CacheControl `json:"cache_control,omitempty"`
}

// ToolChoiceMode says how the model may use tools.
type ToolChoiceMode string

const (
	ToolChoiceAuto     ToolChoiceMode = "auto"
	ToolChoiceNone     ToolChoiceMode = "none"
	ToolChoiceRequired ToolChoiceMode = "required"
	// ToolChoiceFunction forces the function named in ToolChoice.Name.
	ToolChoiceFunction ToolChoiceMode = "function"
)

// ToolChoice constrains tool use.
type ToolChoice struct {
	Mode ToolChoiceMode `json:"mode"`
	Name string         `json:"name,omitempty"`
}

// ToolCall is a call of a function by the model.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ResponseFormatType says what shape of output is asked for.
type ResponseFormatType string

const (
	FormatText       ResponseFormatType = "text"
	FormatJSONObject ResponseFormatType = "json_object"
	FormatJSONSchema ResponseFormatType = "json_schema"
)

// ResponseFormat asks for structured output.
type ResponseFormat struct {
	Type        ResponseFormatType `json:"type"`
	Name        string             `json:"name,omitempty"`
	Description string             `json:"description,omitempty"`
	Schema      json.RawMessage    `json:"schema,omitempty"`
	Strict      *bool              `json:"strict,omitempty"`
}

// Request is a canonical chat request.
type Request struct {
	// Model is the model name as the client gave it (an alias). The router
	// resolves it; providers receive the upstream name in UpstreamModel.
	Model string `json:"model"`
	// UpstreamModel is set by the router for the chosen target.
	UpstreamModel string      `json:"-"`
	Messages      []Message   `json:"messages"`
	Tools         []Tool      `json:"tools,omitempty"`
	ToolChoice    *ToolChoice `json:"tool_choice,omitempty"`
	// ParallelToolCalls is nil when the client did not say.
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat    *ResponseFormat `json:"response_format,omitempty"`
	Stream            bool            `json:"stream"`
	// MaxTokens caps output tokens; 0 means the provider default.
	MaxTokens   int      `json:"max_tokens,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	Stop        []string `json:"stop,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
	// N is the number of choices; 0 and 1 both mean one.
	N int `json:"n,omitempty"`
	// User is the end-user identifier the client supplied.
	User     string            `json:"user,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// ReasoningEffort is passed to reasoning models ("low", "medium", "high").
	ReasoningEffort string `json:"reasoning_effort,omitempty"`
	// TopK samples from the K most likely tokens (Anthropic, Gemini).
	TopK *int `json:"top_k,omitempty"`
	// Thinking enables extended reasoning with a token budget (Anthropic,
	// Bedrock, Gemini thinking budgets).
	Thinking *Thinking `json:"thinking,omitempty"`
	// ExtraHeaders are request headers the client sent for its own wire
	// family (e.g. anthropic-beta), forwarded only to a provider of
	// ExtraFamily.
	ExtraHeaders map[string]string `json:"-"`
	// Extra holds fields the front door did not understand, to be passed
	// through verbatim to a provider of the same wire family.
	Extra map[string]json.RawMessage `json:"-"`
	// ExtraFamily is the wire family Extra came from (e.g. "openai").
	ExtraFamily string `json:"-"`
}

// Thinking configures extended reasoning.
type Thinking struct {
	// Enabled turns reasoning on.
	Enabled bool `json:"enabled"`
	// BudgetTokens caps the tokens spent reasoning; 0 means the provider
	// default.
	BudgetTokens int `json:"budget_tokens,omitempty"`
}

// EmbeddingRequest is a canonical embeddings request.
type EmbeddingRequest struct {
	Model         string `json:"model"`
	UpstreamModel string `json:"-"`
	// Input is one or more strings to embed.
	Input []string `json:"input"`
	// Dimensions asks for shortened vectors when the model supports it.
	Dimensions int `json:"dimensions,omitempty"`
	// EncodingFormat is "float" or "base64" as the client asked; providers
	// always return floats and the front door encodes.
	EncodingFormat string `json:"encoding_format,omitempty"`
	User           string `json:"user,omitempty"`
}

// EmbeddingResponse is a canonical embeddings response.
type EmbeddingResponse struct {
	Model   string      `json:"model"`
	Vectors [][]float32 `json:"vectors"`
	Usage   Usage       `json:"usage"`
}

// FinishReason says why generation ended.
type FinishReason string

const (
	FinishStop          FinishReason = "stop"
	FinishLength        FinishReason = "length"
	FinishToolCalls     FinishReason = "tool_calls"
	FinishContentFilter FinishReason = "content_filter"
)

// Usage counts tokens of one upstream call.
//
// InputTokens counts the prompt as OpenAI's prompt_tokens does: cache reads
// included (CachedInputTokens is a subset), cache writes not
// (CacheWriteTokens come on top, as Anthropic reports them). A codec whose
// upstream counts differently converts: Anthropic's input_tokens +
// cache_read_input_tokens is InputTokens; an OpenAI-family door shows
// InputTokens + CacheWriteTokens as prompt_tokens.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	// CachedInputTokens are input tokens read from a prompt cache (a subset
	// of InputTokens).
	CachedInputTokens int64 `json:"cached_input_tokens,omitempty"`
	// CacheWriteTokens are input tokens written to a prompt cache.
	CacheWriteTokens int64 `json:"cache_write_tokens,omitempty"`
	// ReasoningTokens are output tokens spent on reasoning (a subset of
	// OutputTokens).
	ReasoningTokens int64 `json:"reasoning_tokens,omitempty"`
}

// Add accumulates o into u.
func (u *Usage) Add(o Usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CachedInputTokens += o.CachedInputTokens
	u.CacheWriteTokens += o.CacheWriteTokens
	u.ReasoningTokens += o.ReasoningTokens
}

// EventType says what an Event carries.
type EventType uint8

const (
	// EventStart opens a response: ID, Model and Created are set.
	EventStart EventType = iota + 1
	// EventRole announces the assistant role for Choice.
	EventRole
	// EventText carries a text delta for Choice.
	EventText
	// EventRefusal carries a refusal delta for Choice.
	EventRefusal
	// EventReasoning carries a reasoning-text delta for Choice in Text,
	// and/or the reasoning block's Signature (Anthropic signature_delta).
	EventReasoning
	// EventToolCall carries a tool-call delta: ToolIndex identifies the call
	// within Choice; ToolCall.ID and Name are set on its first delta and
	// ToolCall.Arguments holds the argument fragment.
	EventToolCall
	// EventFinish ends Choice with FinishReason.
	EventFinish
	// EventUsage carries the call's token usage. A provider sends it once,
	// after the last content event, with the totals (a provider whose
	// upstream reports usage in pieces, as Anthropic's does, sums them).
	EventUsage
	// EventRedactedReasoning carries encrypted reasoning in Text, to be
	// replayed only to the same provider family.
	EventRedactedReasoning
)

// Event is one canonical stream event. Providers yield them; front doors
// encode them.
type Event struct {
	Type         EventType
	Choice       int
	ID           string
	Model        string
	Created      int64
	Text         string
	ToolIndex    int
	ToolCall     ToolCall
	FinishReason FinishReason
	Usage        Usage
	// SystemFingerprint is passed through from upstream when present.
	SystemFingerprint string
	// Signature authenticates a reasoning block (EventReasoning).
	Signature string
	// StopSequence is the stop sequence that ended Choice (EventFinish),
	// when the upstream says which.
	StopSequence string
	// Annotations carry upstream-specific results a door may surface as
	// they are, such as Azure's content_filter_results or Gemini's
	// safetyRatings, keyed by the upstream's own field name.
	Annotations map[string]json.RawMessage
}

// IsContent reports whether the event carries output the client sees as
// generation (as opposed to preamble such as Start or Role). The gateway
// commits to an attempt when the first content event arrives.
func (e *Event) IsContent() bool {
	switch e.Type {
	case EventText, EventRefusal, EventReasoning, EventRedactedReasoning, EventToolCall, EventFinish:
		return true
	}
	return false
}

// Timing records when an attempt produced its output.
type Timing struct {
	Start      time.Time
	FirstToken time.Time
	End        time.Time
}

// Stream is a provider's answer to a chat request: canonical events in
// order. Next returns io.EOF after the last event. Close releases the
// upstream connection and may be called at any time, more than once.
type Stream interface {
	Next() (Event, error)
	Close() error
}
