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
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/causeway-ai/causeway/internal/llm"
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
	client  *http.Client
	msgURL  string
	version string
}

// New builds a provider; it opens no connection.
func New(cfg Config) *Provider {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.FirstTokenTimeout <= 0 {
		cfg.FirstTokenTimeout = 60 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.TotalTimeout <= 0 {
		cfg.TotalTimeout = 10 * time.Minute
	}
	if cfg.MaxIdleConns <= 0 {
		cfg.MaxIdleConns = 256
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 20
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = wire.Version
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxIdleConns,
		MaxIdleConnsPerHost:   cfg.MaxIdleConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	base = strings.TrimSuffix(base, "/v1")
	return &Provider{
		cfg:     cfg,
		client:  &http.Client{Transport: tr},
		msgURL:  base + "/v1/messages",
		version: cfg.APIVersion,
	}
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.cfg.Name }

// watchdog cancels a call whose upstream is silent for too long and
// remembers why, so the error says which timeout fired. It uses one timer,
// reset on every event.
type watchdog struct {
	t      *time.Timer
	state  atomic.Int32 // 0 waiting for the first event, 3 streaming
	fired  atomic.Int32 // 1 first token, 2 idle
	idle   time.Duration
	first  time.Duration
	cancel context.CancelFunc
}

func newWatchdog(first, idle time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{idle: idle, first: first, cancel: cancel}
	w.t = time.AfterFunc(first, func() {
		if w.state.Load() == 0 {
			w.fired.CompareAndSwap(0, 1)
		} else {
			w.fired.CompareAndSwap(0, 2)
		}
		cancel()
	})
	return w
}

func (w *watchdog) tick() {
	w.state.Store(3)
	w.t.Reset(w.idle)
}

func (w *watchdog) stop() { w.t.Stop() }

// explain turns an error caused by the watchdog or the total timeout into
// a timeout error; other errors pass through classify.
func (w *watchdog) explain(ctx context.Context, err error) error {
	switch w.fired.Load() {
	case 1:
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream sent nothing within the first-token timeout of " + w.first.String(), Err: err}
	case 2:
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream stream was idle for longer than " + w.idle.String(), Err: err}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream did not finish within the total timeout", Err: err}
	}
	return classify(err)
}

// classify maps a transport error to a Kind.
func classify(err error) error {
	if _, ok := errors.AsType[*llm.Error](err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return &llm.Error{Kind: llm.KindCanceled, Message: "the request was canceled", Err: err}
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream timed out", Err: err}
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return &llm.Error{Kind: llm.KindUnavailable, Message: "could not connect to the upstream", Err: err}
	}
	return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream connection failed", Err: err}
}

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
	return p.client.Do(hr)
}

// Chat implements the gateway's Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, jsonMode, err := encode(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.TotalTimeout)
	// A whole answer arrives only when generation is done: the total
	// timeout bounds it, the first-token timeout bounds streams.
	first := p.cfg.FirstTokenTimeout
	if !req.Stream {
		first = p.cfg.TotalTimeout + time.Minute
	}
	wd := newWatchdog(first, p.cfg.IdleTimeout, cancel)
	resp, err := p.post(ctx, body, req)
	if err != nil {
		err = wd.explain(ctx, err)
		wd.stop()
		cancel()
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		b, _ := readAll(resp.Body, 64<<10)
		resp.Body.Close()
		wd.stop()
		cancel()
		return nil, DecodeError(p.cfg.Name, resp.StatusCode, resp.Header, b)
	}
	if !req.Stream {
		defer cancel()
		defer wd.stop()
		defer resp.Body.Close()
		b, err := readAll(resp.Body, p.cfg.MaxResponseBytes)
		if err != nil {
			return nil, wd.explain(ctx, err)
		}
		evs, err := decodeResponse(b, jsonMode)
		if err != nil {
			return nil, err
		}
		return &sliceStream{events: evs}, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		wd.stop()
		cancel()
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream answered a streaming request with Content-Type " + ct}
	}
	return &stream{
		ctx: ctx, cancel: cancel, wd: wd, body: resp.Body, jsonMode: jsonMode,
		r: sse.NewReader(resp.Body, p.cfg.MaxResponseBytes),
	}, nil
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
		e.RetryAfter = retryAfter(h.Get("Retry-After"))
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

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func readAll(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream response exceeds " + strconv.Itoa(limit) + " bytes"}
	}
	return b, nil
}
