// Package openai is the provider codec for OpenAI's Chat Completions and
// Embeddings protocol, which OpenAI itself, vLLM, Ollama, llama.cpp's
// server and `causeway sim` all speak. It turns canonical requests into
// that wire format and upstream responses and streams into canonical
// events.
//
// It must never import a front door; it owns no policy, routing or
// metering.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
	"github.com/causeway-ai/causeway/internal/sse"
)

// Kind is the provider type name used in configuration.
const Kind = "openai"

// Config configures one OpenAI-compatible endpoint.
type Config struct {
	// Name identifies the provider in metrics, logs and usage records.
	Name string
	// BaseURL is the API root including its version path, e.g.
	// https://api.openai.com/v1 or http://127.0.0.1:11434/v1.
	BaseURL string
	// APIKey is sent as a bearer token when set.
	APIKey string
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

	// The fields below let another provider of the OpenAI wire family
	// (Azure OpenAI) reuse this codec and transport rather than copy them.

	// ChatURL, when set, returns the chat completions URL for an upstream
	// model (Azure addresses a deployment in the path); BaseURL is then
	// not used for chat.
	ChatURL func(model string) string
	// EmbedURL, when set, returns the embeddings URL for an upstream
	// model.
	EmbedURL func(model string) string
	// Authorize, when set, sets the credential headers of every request
	// instead of "Authorization: Bearer <APIKey>". Its error (an
	// *llm.Error) fails the attempt.
	Authorize func(ctx context.Context, h http.Header) error
	// Dialect adapts request bodies to an upstream that predates parts of
	// the OpenAI API.
	Dialect Dialect
}

// Dialect lists the request fields an OpenAI-family upstream does not
// accept.
type Dialect struct {
	// LegacyMaxTokens sends the output cap as max_tokens rather than
	// max_completion_tokens.
	LegacyMaxTokens bool
	// NoStreamOptions omits stream_options: the upstream rejects it, so a
	// streamed answer carries no usage.
	NoStreamOptions bool
}

// Provider is an OpenAI-compatible upstream.
type Provider struct {
	cfg      Config
	up       *upstream.Client
	chatURL  func(model string) string
	embedURL func(model string) string
	auth     string
}

// New builds a provider; it opens no connection.
func New(cfg Config) *Provider {
	base := strings.TrimRight(cfg.BaseURL, "/")
	p := &Provider{
		cfg: cfg,
		up: upstream.NewClient(upstream.Limits{ConnectTimeout: cfg.ConnectTimeout, FirstTokenTimeout: cfg.FirstTokenTimeout,
			IdleTimeout: cfg.IdleTimeout, TotalTimeout: cfg.TotalTimeout, MaxIdleConns: cfg.MaxIdleConns, MaxResponseBytes: cfg.MaxResponseBytes}),
		chatURL:  cfg.ChatURL,
		embedURL: cfg.EmbedURL,
	}
	if p.chatURL == nil {
		u := base + "/chat/completions"
		p.chatURL = func(string) string { return u }
	}
	if p.embedURL == nil {
		u := base + "/embeddings"
		p.embedURL = func(string) string { return u }
	}
	if cfg.APIKey != "" {
		p.auth = "Bearer " + cfg.APIKey
	}
	return p
}

// Name returns the configured provider name.
// Family is this provider type's reasoning family.
const Family = "openai"

func (p *Provider) Name() string { return p.cfg.Name }

// Family names the provider family whose reasoning this provider can
// replay (see llm.Part.Origin).
func (p *Provider) Family() string { return Family }

func (p *Provider) post(ctx context.Context, url string, body []byte, stream bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "could not build the upstream request", Err: err}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	if stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	if p.cfg.Authorize != nil {
		if err := p.cfg.Authorize(ctx, h); err != nil {
			return nil, err
		}
	} else if p.auth != "" {
		h.Set("Authorization", p.auth)
	}
	for k, v := range p.cfg.Headers {
		h.Set(k, v)
	}
	return p.up.HTTP.Do(req)
}

// Chat implements the gateway's Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, err := EncodeChatRequestDialect(req, p.cfg.Dialect)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInvalid, Message: "could not encode the request for the upstream", Err: err}
	}
	call, err := p.up.Open(ctx, p.up.ChatFirst(req.Stream), func(ctx context.Context) (*http.Response, error) {
		return p.post(ctx, p.chatURL(req.UpstreamModel), body, req.Stream)
	}, p.upstreamError)
	if err != nil {
		return nil, err
	}
	if !req.Stream {
		return call.Whole(DecodeResponse)
	}
	if err := call.Expect("text/event-stream"); err != nil {
		return nil, err
	}
	return &stream{call: call, r: sse.NewReader(call.Body, p.up.MaxResponseBytes)}, nil
}

// upstreamError turns a non-2xx answer into an *llm.Error, keeping the
// upstream's message. Upstreams mask keys in their messages (OpenAI's
// 401 quotes the last four characters), so it is passed on as it is.
func (p *Provider) upstreamError(status int, h http.Header, b []byte) error {
	return UpstreamError(p.cfg.Name, status, h, b)
}

// UpstreamError maps an upstream's error answer (status, headers and body)
// to an *llm.Error. It reads OpenAI's envelope
// {"error":{"message","type","param","code"}} and Azure OpenAI's, whose
// code is a string such as "429" or "content_filter" and whose
// innererror holds the content filter's verdict.
func UpstreamError(name string, status int, h http.Header, b []byte) *llm.Error {
	msg, param, code := "", "", ""
	if gjson.ValidBytes(b) {
		if eo := gjson.GetBytes(b, "error"); eo.IsObject() {
			msg = eo.Get("message").String()
			param = eo.Get("param").String()
			code = eo.Get("code").String()
			if ic := eo.Get("innererror.code").String(); ic != "" && code == "content_filter" {
				msg += " (" + ic + ")"
			}
		}
	}
	if msg == "" && len(b) > 0 && len(b) < 512 {
		msg = strings.TrimSpace(string(b))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := &llm.Error{Status: status, Message: "upstream " + name + " returned " + strconv.Itoa(status) + ": " + msg}
	switch s := status; {
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		e.Kind = llm.KindInvalid
		e.Param = param
		if code == "content_filter" {
			// Azure's content filter refused the prompt: the client's
			// request is at fault, and the code tells it why.
			e.Code = code
		}
	case s == http.StatusRequestEntityTooLarge:
		e.Kind = llm.KindTooLarge
	case s == http.StatusTooManyRequests:
		e.Kind = llm.KindRateLimited
		e.RetryAfter = upstream.RetryAfter(h.Get("Retry-After"))
		// Azure also says it in milliseconds, more precisely.
		if ms, err := strconv.ParseInt(h.Get("Retry-After-Ms"), 10, 64); err == nil && ms > 0 {
			e.RetryAfter = time.Duration(ms) * time.Millisecond
		}
	case s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout:
		e.Kind = llm.KindTimeout
	case s == http.StatusServiceUnavailable:
		e.Kind = llm.KindUnavailable
	default:
		// 401/403/404 from an upstream are our configuration's fault, not
		// the client's: a 502 with the upstream's message.
		e.Kind = llm.KindUpstream
	}
	return e
}

// Embed implements the gateway's Provider.
func (p *Provider) Embed(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	input, _ := json.Marshal(req.Input)
	w := wire.EmbeddingRequest{Model: req.UpstreamModel, Input: input, EncodingFormat: "float", User: req.User}
	if req.Dimensions > 0 {
		d := req.Dimensions
		w.Dimensions = &d
	}
	body, err := json.Marshal(&w)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "could not encode the embeddings request", Err: err}
	}
	call, err := p.up.Open(ctx, p.up.FirstTokenTimeout, func(ctx context.Context) (*http.Response, error) {
		return p.post(ctx, p.embedURL(req.UpstreamModel), body, false)
	}, p.upstreamError)
	if err != nil {
		return nil, err
	}
	b, err := call.ReadAll()
	if err != nil {
		return nil, err
	}
	var er struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
		Model string              `json:"model"`
		Usage wire.EmbeddingUsage `json:"usage"`
	}
	if err := json.Unmarshal(b, &er); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned embeddings that are not valid JSON", Err: err}
	}
	out := &llm.EmbeddingResponse{Model: er.Model, Vectors: make([][]float32, len(req.Input)),
		Usage: llm.Usage{InputTokens: er.Usage.PromptTokens}}
	for _, d := range er.Data {
		if d.Index < 0 || d.Index >= len(out.Vectors) {
			return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned an embedding with an out-of-range index"}
		}
		out.Vectors[d.Index] = d.Embedding
	}
	for i, v := range out.Vectors {
		if v == nil {
			return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned no embedding for input " + strconv.Itoa(i)}
		}
	}
	return out, nil
}
