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
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/llm"
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
	// instead of "Authorization: Bearer <APIKey>".
	Authorize func(h http.Header)
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
	client   *http.Client
	chatURL  func(model string) string
	embedURL func(model string) string
	auth     string
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
	p := &Provider{
		cfg:      cfg,
		client:   &http.Client{Transport: tr},
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

// tick records progress: the upstream has until the idle timeout to send
// the next event.
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
	var le *llm.Error
	if errors.As(err, &le) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return &llm.Error{Kind: llm.KindCanceled, Message: "the request was canceled", Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream timed out", Err: err}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return &llm.Error{Kind: llm.KindUnavailable, Message: "could not connect to the upstream", Err: err}
	}
	return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream connection failed", Err: err}
}

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
		p.cfg.Authorize(h)
	} else if p.auth != "" {
		h.Set("Authorization", p.auth)
	}
	for k, v := range p.cfg.Headers {
		h.Set(k, v)
	}
	return p.client.Do(req)
}

// Chat implements the gateway's Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, err := EncodeChatRequestDialect(req, p.cfg.Dialect)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInvalid, Message: "could not encode the request for the upstream", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.TotalTimeout)
	// A whole answer's headers come only when generation is done, so the
	// first-token timeout applies to streams; a whole call is bounded by
	// the total timeout.
	first := p.cfg.FirstTokenTimeout
	if !req.Stream {
		first = p.cfg.TotalTimeout + time.Minute // the total deadline fires first
	}
	wd := newWatchdog(first, p.cfg.IdleTimeout, cancel)
	resp, err := p.post(ctx, p.chatURL(req.UpstreamModel), body, req.Stream)
	if err != nil {
		err = wd.explain(ctx, err)
		wd.stop()
		cancel()
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		err := p.upstreamError(resp)
		wd.stop()
		cancel()
		return nil, err
	}
	if !req.Stream {
		defer cancel()
		defer wd.stop()
		defer resp.Body.Close()
		b, err := readAll(resp.Body, p.cfg.MaxResponseBytes)
		if err != nil {
			return nil, wd.explain(ctx, err)
		}
		evs, err := DecodeResponse(b)
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
		ctx: ctx, cancel: cancel, wd: wd, body: resp.Body,
		r: sse.NewReader(resp.Body, p.cfg.MaxResponseBytes),
	}, nil
}

// upstreamError turns a non-2xx answer into an *llm.Error, keeping the
// upstream's message. Upstreams mask keys in their messages (OpenAI's
// 401 quotes the last four characters), so it is passed on as it is.
func (p *Provider) upstreamError(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := readAll(resp.Body, 64<<10)
	return UpstreamError(p.cfg.Name, resp.StatusCode, resp.Header, b)
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
		e.RetryAfter = retryAfter(h.Get("Retry-After"))
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

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && n < 1e9 {
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
	ctx, cancel := context.WithTimeout(ctx, p.cfg.TotalTimeout)
	defer cancel()
	wd := newWatchdog(p.cfg.FirstTokenTimeout, p.cfg.IdleTimeout, cancel)
	defer wd.stop()
	resp, err := p.post(ctx, p.embedURL(req.UpstreamModel), body, false)
	if err != nil {
		return nil, wd.explain(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, p.upstreamError(resp)
	}
	defer resp.Body.Close()
	b, err := readAll(resp.Body, p.cfg.MaxResponseBytes)
	if err != nil {
		return nil, wd.explain(ctx, err)
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
