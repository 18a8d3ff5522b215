// Package anthropic is the provider codec for Anthropic's Messages API
// (POST /v1/messages). It turns canonical requests into Messages bodies and
// Anthropic's whole responses and SSE streams into canonical events.
//
// # What is translated, and how
//
//   - System and developer messages, wherever they appear, become the
//     top-level system text blocks, in order, with their cache_control.
//   - Consecutive turns of one role are merged (Anthropic wants strict
//     alternation); tool results become tool_result blocks of a user turn,
//     consecutive ones in one turn; assistant tool calls become tool_use
//     blocks whose input is the parsed arguments (invalid JSON is a
//     KindInvalid error); thinking parts with a signature become thinking
//     blocks (unsigned reasoning from another family cannot be replayed and
//     is left out), redacted thinking becomes redacted_thinking.
//   - Images: data: URLs become base64 sources, http(s) URLs url sources.
//     Files: inline PDF becomes a base64 document block, inline text/plain a
//     text document block; other files and file ids are KindInvalid. Audio is
//     KindInvalid.
//   - max_tokens is required by Anthropic: when the request sets none, the
//     default is 4096 for the Claude 3 (3.0) models and 8192 for later ones
//     (see DefaultMaxTokens); with thinking on, the thinking budget is added
//     to it so that the answer still has room.
//   - reasoning_effort turns thinking on with a budget of 1024 (minimal,
//     low), 4096 (medium) or 16384 (high) tokens; Thinking with no budget
//     gets 4096. When the client's max_tokens is not above the budget, the
//     budget becomes half of max_tokens (at least 1024, Anthropic's minimum;
//     a max_tokens of 1024 or less with reasoning is KindInvalid), since the
//     cap includes reasoning as OpenAI's max_completion_tokens does.
//     response_format together with thinking is KindInvalid (Anthropic
//     refuses a forced tool with thinking).
//   - response_format json_object/json_schema: Anthropic has no JSON mode, so
//     the provider forces a tool named "json_output" whose input_schema is
//     the schema (json_object: any object) and turns that tool's input back
//     into the answer's text, finishing with "stop". With client tools as
//     well, tool_choice becomes "any" so that the model either calls one of
//     them or answers in JSON; tool_choice none or a named function together
//     with response_format is KindInvalid.
//   - n > 1 is KindInvalid; seed is a best-effort hint that Anthropic cannot
//     honour and is dropped; OpenAI's metadata map (for stored completions)
//     is dropped, the user becomes metadata.user_id; tool "strict" is
//     dropped. Unknown body fields and extra headers (anthropic-beta …) are
//     passed through only when they came from an Anthropic-family door;
//     credentials, anthropic-version (the configured one is sent) and
//     transport headers are never taken from a client.
//
// Usage follows the canonical definition: InputTokens = input_tokens +
// cache_read_input_tokens, CachedInputTokens = cache_read_input_tokens,
// CacheWriteTokens = cache_creation_input_tokens, OutputTokens the final
// cumulative output_tokens; one EventUsage at the end.
//
// It must never import a front door or the gateway.
package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
	wire "github.com/causeway-ai/causeway/internal/schema/anthropic"
	"github.com/causeway-ai/causeway/internal/sse"
)

// Kind is the provider type name used in configuration.
const Kind = "anthropic"

// DefaultBaseURL is Anthropic's API root.
const DefaultBaseURL = "https://api.anthropic.com"

// Config configures one Anthropic endpoint.
type Config struct {
	// Name identifies the provider in metrics, logs and usage records.
	Name string
	// BaseURL is the API root without the version path, e.g.
	// https://api.anthropic.com (the default).
	BaseURL string
	// APIKey is sent in the x-api-key header when set.
	APIKey string
	// APIVersion is the anthropic-version header; default 2023-06-01.
	APIVersion string
	// Headers are extra headers sent with every request.
	Headers map[string]string
	// ConnectTimeout bounds dialing (and TLS) to the upstream.
	ConnectTimeout time.Duration
	// FirstTokenTimeout bounds the wait from sending a request to its first
	// event (for whole responses: to the response headers).
	FirstTokenTimeout time.Duration
	// IdleTimeout bounds the gap between two stream events.
	IdleTimeout time.Duration
	// TotalTimeout bounds a whole call.
	TotalTimeout time.Duration
	// MaxIdleConns is the idle connection pool size for the upstream host.
	MaxIdleConns int
	// MaxResponseBytes caps a whole response body and a stream line.
	MaxResponseBytes int
}

// Provider is an Anthropic Messages upstream.
type Provider struct {
	cfg     Config
	up      *upstream.Client
	msgURL  string
	version string
}

// New builds a provider; it opens no connection.
func New(cfg Config) *Provider {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = wire.Version
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	base = strings.TrimSuffix(base, "/v1")
	return &Provider{
		cfg: cfg,
		up: upstream.NewClient(upstream.Limits{ConnectTimeout: cfg.ConnectTimeout, FirstTokenTimeout: cfg.FirstTokenTimeout,
			IdleTimeout: cfg.IdleTimeout, TotalTimeout: cfg.TotalTimeout, MaxIdleConns: cfg.MaxIdleConns, MaxResponseBytes: cfg.MaxResponseBytes}),
		msgURL:  base + "/v1/messages",
		version: cfg.APIVersion,
	}
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.cfg.Name }

// Family names the provider family whose reasoning this provider can
// replay (see llm.Part.Origin).
func (p *Provider) Family() string { return Kind }

// reservedHeaders are never taken from a client: credentials, the
// protocol version this codec speaks, and the transport's own.
var reservedHeaders = map[string]bool{
	"Authorization": true, "X-Api-Key": true, "Anthropic-Version": true, "Host": true,
	"Content-Type": true, "Content-Length": true, "Accept": true, "Accept-Encoding": true,
	"Connection": true, "Transfer-Encoding": true, "Te": true, "Upgrade": true,
}

func (p *Provider) post(ctx context.Context, body []byte, req *llm.Request) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.msgURL, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "could not build the upstream request", Err: err}
	}
	h := hr.Header
	if req.ExtraFamily == Kind {
		for k, v := range req.ExtraHeaders {
			if !reservedHeaders[http.CanonicalHeaderKey(k)] {
				h.Set(k, v)
			}
		}
	}
	for k, v := range p.cfg.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if req.Stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	h.Set("Anthropic-Version", p.version)
	if p.cfg.APIKey != "" {
		h.Set("X-Api-Key", p.cfg.APIKey)
	}
	return p.up.HTTP.Do(hr)
}

// Chat implements the gateway's Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, jsonMode, err := encode(req)
	if err != nil {
		return nil, err
	}
	call, err := p.up.Open(ctx, p.up.ChatFirst(req.Stream), func(ctx context.Context) (*http.Response, error) {
		return p.post(ctx, body, req)
	}, func(status int, h http.Header, b []byte) error { return DecodeError(p.cfg.Name, status, h, b) })
	if err != nil {
		return nil, err
	}
	if !req.Stream {
		return call.Whole(func(b []byte) ([]llm.Event, error) { return decodeResponse(b, jsonMode) })
	}
	if err := call.Expect("text/event-stream"); err != nil {
		return nil, err
	}
	return &stream{call: call, jsonMode: jsonMode, r: sse.NewReader(call.Body, p.up.MaxResponseBytes)}, nil
}

// Embed implements the gateway's Provider: Anthropic has no embeddings.
func (p *Provider) Embed(context.Context, *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	return nil, &llm.Error{Kind: llm.KindInvalid, Param: "model", Message: "anthropic has no embeddings API"}
}

// DecodeError turns a non-2xx answer of provider name into an *llm.Error,
// keeping Anthropic's message (which never holds our credentials).
func DecodeError(name string, status int, h http.Header, body []byte) error {
	msg, typ := "", ""
	var eb wire.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Message != "" {
		msg, typ = eb.Error.Message, eb.Error.Type
	} else if len(body) > 0 && len(body) < 512 {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := &llm.Error{Status: status, Message: "upstream " + name + " returned " + strconv.Itoa(status) + ": " + msg}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		e.Kind = llm.KindInvalid
	case status == http.StatusRequestEntityTooLarge:
		e.Kind = llm.KindTooLarge
	case status == http.StatusTooManyRequests:
		e.Kind = llm.KindRateLimited
		e.RetryAfter = upstream.RetryAfter(h.Get("Retry-After"))
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind = llm.KindTimeout
	case status == http.StatusServiceUnavailable || status == 529 || typ == "overloaded_error":
		e.Kind = llm.KindUnavailable
	default:
		// 401/403/404 from an upstream are our configuration's fault, not
		// the client's: a 502 with the upstream's message.
		e.Kind = llm.KindUpstream
	}
	return e
}

// CloseIdleConnections closes the provider's idle upstream connections
// (after a reload replaced it, and in leak tests).
func (p *Provider) CloseIdleConnections() { p.up.CloseIdleConnections() }
