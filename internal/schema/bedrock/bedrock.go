// Package bedrock holds the wire types of the AWS Bedrock runtime APIs the
// gateway speaks: Converse, ConverseStream (whose events travel in
// application/vnd.amazon.eventstream frames) and InvokeModel for the Titan
// and Cohere embedding models. Field names follow the Bedrock API reference
// and the official SDK's schema (service/bedrockruntime).
//
// It is schema only: no translation logic lives here, so that the provider
// and the simulator (which share these definitions) cannot share a codec
// bug.
package bedrock

import "encoding/json"

// ConverseRequest is the body of POST /model/{modelId}/converse and
// /model/{modelId}/converse-stream (the model id travels in the path).
type ConverseRequest struct {
	Messages                          []Message               `json:"messages"`
	System                            []SystemContentBlock    `json:"system,omitempty"`
	InferenceConfig                   *InferenceConfiguration `json:"inferenceConfig,omitempty"`
	ToolConfig                        *ToolConfiguration      `json:"toolConfig,omitempty"`
	GuardrailConfig                   json.RawMessage         `json:"guardrailConfig,omitempty"`
	AdditionalModelRequestFields      json.RawMessage         `json:"additionalModelRequestFields,omitempty"`
	AdditionalModelResponseFieldPaths []string                `json:"additionalModelResponseFieldPaths,omitempty"`
	PromptVariables                   json.RawMessage         `json:"promptVariables,omitempty"`
	RequestMetadata                   map[string]string       `json:"requestMetadata,omitempty"`
	PerformanceConfig                 json.RawMessage         `json:"performanceConfig,omitempty"`
}

// Message is one turn: role "user" or "assistant".
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// ContentBlock is a union: exactly one member is set.
type ContentBlock struct {
	Text             *string                `json:"text,omitempty"`
	Image            *ImageBlock            `json:"image,omitempty"`
	Document         json.RawMessage        `json:"document,omitempty"`
	ToolUse          *ToolUseBlock          `json:"toolUse,omitempty"`
	ToolResult       *ToolResultBlock       `json:"toolResult,omitempty"`
	ReasoningContent *ReasoningContentBlock `json:"reasoningContent,omitempty"`
	CachePoint       *CachePointBlock       `json:"cachePoint,omitempty"`
	GuardContent     json.RawMessage        `json:"guardContent,omitempty"`
}

// SystemContentBlock is a union: text, cachePoint or guardContent.
type SystemContentBlock struct {
	Text         *string          `json:"text,omitempty"`
	CachePoint   *CachePointBlock `json:"cachePoint,omitempty"`
	GuardContent json.RawMessage  `json:"guardContent,omitempty"`
}

// CachePointBlock marks a prompt-caching checkpoint; Type is "default".
type CachePointBlock struct {
	Type string `json:"type"`
	// TTL is "5m" or "1h" where the model supports it.
	TTL string `json:"ttl,omitempty"`
}

// ImageBlock is an image: Format is png, jpeg, gif or webp.
type ImageBlock struct {
	Format string      `json:"format"`
	Source ImageSource `json:"source"`
}

// ImageSource holds the image bytes, base64-encoded on the wire.
type ImageSource struct {
	Bytes      []byte          `json:"bytes,omitempty"`
	S3Location json.RawMessage `json:"s3Location,omitempty"`
}

// ToolUseBlock is a model's tool call; Input is a JSON document.
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// ToolResultBlock answers a tool call. Status is "success" or "error".
type ToolResultBlock struct {
	ToolUseID string                   `json:"toolUseId"`
	Content   []ToolResultContentBlock `json:"content"`
	Status    string                   `json:"status,omitempty"`
}

// ToolResultContentBlock is a union: text, json, image or document.
type ToolResultContentBlock struct {
	Text     *string         `json:"text,omitempty"`
	JSON     json.RawMessage `json:"json,omitempty"`
	Image    *ImageBlock     `json:"image,omitempty"`
	Document json.RawMessage `json:"document,omitempty"`
}

// ReasoningContentBlock is a union: reasoningText or redactedContent
// (base64 on the wire).
type ReasoningContentBlock struct {
	ReasoningText   *ReasoningTextBlock `json:"reasoningText,omitempty"`
	RedactedContent []byte              `json:"redactedContent,omitempty"`
}

// ReasoningTextBlock is reasoning text with the signature that lets it be
// replayed.
type ReasoningTextBlock struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

// InferenceConfiguration holds the sampling parameters.
type InferenceConfiguration struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// ToolConfiguration lists the tools and the tool choice.
type ToolConfiguration struct {
	Tools      []Tool      `json:"tools"`
	ToolChoice *ToolChoice `json:"toolChoice,omitempty"`
}

// Tool is a union: toolSpec or cachePoint.
type Tool struct {
	ToolSpec   *ToolSpecification `json:"toolSpec,omitempty"`
	CachePoint *CachePointBlock   `json:"cachePoint,omitempty"`
}

// ToolSpecification defines a function.
type ToolSpecification struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema ToolInputSchema `json:"inputSchema"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolInputSchema wraps the JSON Schema of a tool's input.
type ToolInputSchema struct {
	JSON json.RawMessage `json:"json"`
}

// ToolChoice is a union: auto, any, or tool.
type ToolChoice struct {
	Auto *struct{}           `json:"auto,omitempty"`
	Any  *struct{}           `json:"any,omitempty"`
	Tool *SpecificToolChoice `json:"tool,omitempty"`
}

// SpecificToolChoice forces one tool.
type SpecificToolChoice struct {
	Name string `json:"name"`
}

// ConverseResponse is the body of a Converse answer.
type ConverseResponse struct {
	Output                        ConverseOutput  `json:"output"`
	StopReason                    string          `json:"stopReason"`
	Usage                         TokenUsage      `json:"usage"`
	Metrics                       Metrics         `json:"metrics"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
	Trace                         json.RawMessage `json:"trace,omitempty"`
}

// ConverseOutput is a union; Message is its only member today.
type ConverseOutput struct {
	Message *Message `json:"message,omitempty"`
}

// TokenUsage counts tokens. InputTokens excludes cache reads and writes.
type TokenUsage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	TotalTokens           int64 `json:"totalTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens,omitempty"`
}

// Metrics is the call's latency.
type Metrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// Stop reasons.
const (
	StopEndTurn             = "end_turn"
	StopToolUse             = "tool_use"
	StopMaxTokens           = "max_tokens"
	StopStopSequence        = "stop_sequence"
	StopGuardrailIntervened = "guardrail_intervened"
	StopContentFiltered     = "content_filtered"
)

// Event-stream header names and values used by ConverseStream.
const (
	HeaderMessageType   = ":message-type"
	HeaderEventType     = ":event-type"
	HeaderExceptionType = ":exception-type"
	HeaderErrorCode     = ":error-code"
	HeaderErrorMessage  = ":error-message"
	HeaderContentType   = ":content-type"

	MessageTypeEvent     = "event"
	MessageTypeException = "exception"
	MessageTypeError     = "error"

	EventStreamContentType = "application/vnd.amazon.eventstream"
)

// ConverseStream event types (the :event-type header).
const (
	EventMessageStart      = "messageStart"
	EventContentBlockStart = "contentBlockStart"
	EventContentBlockDelta = "contentBlockDelta"
	EventContentBlockStop  = "contentBlockStop"
	EventMessageStop       = "messageStop"
	EventMetadata          = "metadata"
)

// MessageStartEvent opens the answer.
type MessageStartEvent struct {
	Role string `json:"role"`
}

// ContentBlockStartEvent opens a content block that needs a header (tool
// use); text blocks start with their first delta.
type ContentBlockStartEvent struct {
	ContentBlockIndex int               `json:"contentBlockIndex"`
	Start             ContentBlockStart `json:"start"`
}

// ContentBlockStart is a union; ToolUse is the member the gateway reads.
type ContentBlockStart struct {
	ToolUse *ToolUseBlockStart `json:"toolUse,omitempty"`
}

// ToolUseBlockStart names a tool call.
type ToolUseBlockStart struct {
	ToolUseID string `json:"toolUseId"`
	Name      string `json:"name"`
}

// ContentBlockDeltaEvent carries a piece of a content block.
type ContentBlockDeltaEvent struct {
	ContentBlockIndex int               `json:"contentBlockIndex"`
	Delta             ContentBlockDelta `json:"delta"`
}

// ContentBlockDelta is a union: text, toolUse or reasoningContent.
type ContentBlockDelta struct {
	Text             *string                     `json:"text,omitempty"`
	ToolUse          *ToolUseBlockDelta          `json:"toolUse,omitempty"`
	ReasoningContent *ReasoningContentBlockDelta `json:"reasoningContent,omitempty"`
}

// ToolUseBlockDelta is a fragment of a tool call's JSON input.
type ToolUseBlockDelta struct {
	Input string `json:"input"`
}

// ReasoningContentBlockDelta is a union: text, signature or
// redactedContent (base64).
type ReasoningContentBlockDelta struct {
	Text            *string `json:"text,omitempty"`
	Signature       *string `json:"signature,omitempty"`
	RedactedContent []byte  `json:"redactedContent,omitempty"`
}

// ContentBlockStopEvent closes a content block.
type ContentBlockStopEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
}

// MessageStopEvent ends the answer with its stop reason.
type MessageStopEvent struct {
	StopReason                    string          `json:"stopReason"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
}

// MetadataEvent is the stream's last event: usage and metrics.
type MetadataEvent struct {
	Usage   TokenUsage      `json:"usage"`
	Metrics Metrics         `json:"metrics"`
	Trace   json.RawMessage `json:"trace,omitempty"`
}

// ErrorBody is the body of an error answer and of an exception event;
// the error type is in the x-amzn-ErrorType header (or :exception-type).
type ErrorBody struct {
	Message string `json:"message"`
}

// HeaderErrorType is the HTTP header naming the error type of a non-2xx
// answer, such as "ThrottlingException" (possibly followed by
// ":http://internal.amazon.com/...").
const HeaderErrorType = "X-Amzn-Errortype"

// HeaderInputTokenCount is the InvokeModel answer header with the input
// token count.
const HeaderInputTokenCount = "X-Amzn-Bedrock-Input-Token-Count"

// TitanEmbedRequest is the InvokeModel body for amazon.titan-embed-text-v2:0.
type TitanEmbedRequest struct {
	InputText  string `json:"inputText"`
	Dimensions *int   `json:"dimensions,omitempty"`
	Normalize  *bool  `json:"normalize,omitempty"`
}

// TitanEmbedResponse is its answer.
type TitanEmbedResponse struct {
	Embedding           []float32 `json:"embedding"`
	InputTextTokenCount int64     `json:"inputTextTokenCount"`
}

// CohereEmbedRequest is the InvokeModel body for cohere.embed-* models.
type CohereEmbedRequest struct {
	Texts          []string `json:"texts"`
	InputType      string   `json:"input_type"`
	Truncate       string   `json:"truncate,omitempty"`
	EmbeddingTypes []string `json:"embedding_types,omitempty"`
}

// CohereEmbedResponse is its answer (embedding_types unset: floats).
type CohereEmbedResponse struct {
	ID           string      `json:"id"`
	Embeddings   [][]float32 `json:"embeddings"`
	Texts        []string    `json:"texts"`
	ResponseType string      `json:"response_type,omitempty"`
}
