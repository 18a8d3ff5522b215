// Package gemini is the provider codec for Google's Gemini API
// (generativelanguage.googleapis.com) and, as a second mode, Gemini on
// Vertex AI: it turns canonical requests into generateContent bodies and
// Gemini's answers and streams (SSE of GenerateContentResponse objects)
// into canonical events.
//
// It must never import a front door or the gateway; it owns no policy,
// routing or metering.
//
// What Gemini cannot express fails with KindInvalid naming the field:
// http(s) image URLs (Gemini fetches only gs:// and Files API URIs),
// parallel_tool_calls=false, non-text system or tool-result content.
// The request's user and metadata fields have no Gemini equivalent and are
// not sent. Gemini returns no token usage for embeddings, so their input
// tokens are estimated offline (internal/tokens, o200k_base). Embeddings
// in Vertex AI mode are not supported yet.
package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
	wire "github.com/causeway-ai/causeway/internal/schema/gemini"
	"github.com/causeway-ai/causeway/internal/sse"
	"github.com/causeway-ai/causeway/internal/tokens"
)

// Kind is the provider type name used in configuration.
const Kind = "gemini"

// DefaultBaseURL is the Gemini API's root.
const DefaultBaseURL = "https://generativelanguage.googleapis.com"

// Config configures one Gemini endpoint.
type Config struct {
	// Name identifies the provider in metrics, logs and usage records.
	Name string
	// BaseURL is the API root, such as DefaultBaseURL (the default). A
	// trailing version path (".../v1beta") is taken as APIVersion. For
	// Vertex the default is https://{region}-aiplatform.googleapis.com.
	BaseURL string
	// APIVersion is the version path: "v1beta" by default ("v1" for Vertex).
	APIVersion string
	// APIKey is sent in the x-goog-api-key header (Gemini API mode).
	APIKey string
	// Vertex, when set, selects Vertex AI mode.
	Vertex *VertexConfig
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

// versionPath matches an API version path segment such as v1beta.
var versionPath = regexp.MustCompile(`^v1(alpha|beta)?[0-9]*$`)

// Provider is a Gemini upstream.
type Provider struct {
	cfg Config
	up  *upstream.Client
	// prefix is the URL up to and including "models/".
	prefix string
	tokens *tokenSource // Vertex mode only
}

// New builds a provider; it opens no connection (in Vertex mode it reads
// the credentials file).
func New(cfg Config) (*Provider, error) {
	p := &Provider{cfg: cfg, up: upstream.NewClient(upstream.Limits{ConnectTimeout: cfg.ConnectTimeout, FirstTokenTimeout: cfg.FirstTokenTimeout,
		IdleTimeout: cfg.IdleTimeout, TotalTimeout: cfg.TotalTimeout, MaxIdleConns: cfg.MaxIdleConns, MaxResponseBytes: cfg.MaxResponseBytes})}
	if cfg.Vertex != nil {
		p.prefix = VertexModelsURL(cfg.BaseURL, cfg.APIVersion, cfg.Vertex.Project, cfg.Vertex.Region)
		ts, err := newTokenSource(cfg.Vertex, p.up.HTTP)
		if err != nil {
			return nil, err
		}
		p.tokens = ts
	} else {
		base := strings.TrimRight(cfg.BaseURL, "/")
		if base == "" {
			base = DefaultBaseURL
		}
		v := cfg.APIVersion
		if i := strings.LastIndexByte(base, '/'); v == "" && i >= 0 && versionPath.MatchString(base[i+1:]) {
			// A base URL written with its version path, as the API
			// reference shows it.
			base, v = base[:i], base[i+1:]
		}
		if v == "" {
			v = "v1beta"
		}
		p.prefix = base + "/" + v + "/models/"
	}
	return p, nil
}

// VertexModelsURL returns the Vertex AI URL prefix of a project's Google
// models: {base}/{version}/projects/{project}/locations/{region}/publishers/google/models/.
// An empty base is the region's endpoint (aiplatform.googleapis.com for
// the "global" location); an empty version is "v1".
func VertexModelsURL(base, version, project, region string) string {
	base = strings.TrimRight(base, "/")
	if base == "" {
		if region == "global" {
			base = "https://aiplatform.googleapis.com"
		} else {
			base = "https://" + region + "-aiplatform.googleapis.com"
		}
	}
	if version == "" {
		version = "v1"
	}
	return base + "/" + version + "/projects/" + url.PathEscape(project) + "/locations/" + url.PathEscape(region) + "/publishers/google/models/"
}

// MethodURL returns the URL of model's method, such as generateContent.
func (p *Provider) MethodURL(model, method string) string {
	return p.prefix + url.PathEscape(model) + ":" + method
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.cfg.Name }

// Family names the provider family whose reasoning this provider can
// replay (see llm.Part.Origin).
func (p *Provider) Family() string { return Family }

func (p *Provider) post(ctx context.Context, url string, body []byte, stream bool, extra map[string]string) (*http.Response, error) {
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
	for k, v := range extra {
		h.Set(k, v)
	}
	for k, v := range p.cfg.Headers {
		h.Set(k, v)
	}
	if p.tokens != nil {
		tok, err := p.tokens.token(ctx)
		if err != nil {
			return nil, err
		}
		h.Set("Authorization", "Bearer "+tok)
	} else if p.cfg.APIKey != "" {
		h.Set("x-goog-api-key", p.cfg.APIKey)
	}
	return p.up.HTTP.Do(req)
}

// Chat implements the gateway's Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, err := EncodeChatRequest(req)
	if err != nil {
		if _, ok := errors.AsType[*llm.Error](err); ok {
			return nil, err
		}
		return nil, &llm.Error{Kind: llm.KindInvalid, Message: "could not encode the request for the upstream", Err: err}
	}
	var extra map[string]string
	if req.ExtraFamily == Family {
		extra = req.ExtraHeaders
	}
	u := p.MethodURL(req.UpstreamModel, "generateContent")
	if req.Stream {
		u = p.MethodURL(req.UpstreamModel, "streamGenerateContent") + "?alt=sse"
	}
	call, err := p.up.Open(ctx, p.up.ChatFirst(req.Stream), func(ctx context.Context) (*http.Response, error) {
		return p.post(ctx, u, body, req.Stream, extra)
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
// upstream's message (which never holds our credentials).
func (p *Provider) upstreamError(status int, h http.Header, b []byte) error {
	return DecodeError(p.cfg.Name, status, h, b)
}

// DecodeError maps a Gemini error answer to an *llm.Error by its HTTP
// status: 400 is the client's (KindInvalid), 429 a rate limit with the
// delay from Retry-After or the google.rpc.RetryInfo detail, 5xx the
// upstream's.
func DecodeError(name string, status int, h http.Header, b []byte) *llm.Error {
	msg := ""
	var eb wire.ErrorBody
	// Some Gemini errors come as a one-element array.
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var arr []wire.ErrorBody
		if json.Unmarshal(trimmed, &arr) == nil && len(arr) > 0 {
			eb = arr[0]
		}
	} else {
		_ = json.Unmarshal(trimmed, &eb)
	}
	if m := strings.TrimSpace(eb.Error.Message); m != "" {
		msg = m
		if eb.Error.Status != "" {
			msg = eb.Error.Status + ": " + msg
		}
	} else if len(trimmed) > 0 && len(trimmed) < 512 {
		msg = string(trimmed)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := &llm.Error{Status: status, Message: "upstream " + name + " returned " + strconv.Itoa(status) + ": " + msg}
	switch {
	case status == http.StatusBadRequest && eb.Error.Status != "FAILED_PRECONDITION" && !strings.Contains(eb.Error.Message, "API key"):
		e.Kind = llm.KindInvalid
	case status == http.StatusRequestEntityTooLarge:
		e.Kind = llm.KindTooLarge
	case status == http.StatusTooManyRequests:
		e.Kind = llm.KindRateLimited
		e.RetryAfter = upstream.RetryAfter(h.Get("Retry-After"))
		if e.RetryAfter == 0 {
			e.RetryAfter = retryInfo(eb.Error.Details)
		}
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind = llm.KindTimeout
	case status == http.StatusServiceUnavailable:
		e.Kind = llm.KindUnavailable
	default:
		// 401/403/404 and a rejected API key are our configuration's
		// fault, not the client's: a 502 with the upstream's message.
		e.Kind = llm.KindUpstream
	}
	return e
}

// retryInfo reads the delay of a google.rpc.RetryInfo detail.
func retryInfo(details json.RawMessage) time.Duration {
	var ds []wire.RetryInfo
	if json.Unmarshal(details, &ds) != nil {
		return 0
	}
	for _, d := range ds {
		if d.Type == wire.RetryInfoType && d.RetryDelay != "" {
			if v, err := time.ParseDuration(d.RetryDelay); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}

// Embed implements the gateway's Provider: one input goes to
// :embedContent, several to :batchEmbedContents. Gemini reports no token
// usage for embeddings, so Usage is an offline estimate of the inputs.
func (p *Provider) Embed(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	if len(req.Input) == 0 {
		return nil, invalid("input", "no input to embed")
	}
	if p.tokens != nil {
		return nil, invalid("model", "embeddings are not supported yet by the gemini provider in Vertex AI mode (Vertex embeds through :predict); use the Gemini API mode")
	}
	var dims *int
	if req.Dimensions > 0 {
		d := req.Dimensions
		dims = &d
	}
	one := func(text string) wire.EmbedContentRequest {
		return wire.EmbedContentRequest{Content: wire.Content{Parts: []wire.Part{{Text: text}}}, OutputDimensionality: dims}
	}
	var body []byte
	var u string
	if len(req.Input) == 1 {
		body, _ = json.Marshal(one(req.Input[0]))
		u = p.MethodURL(req.UpstreamModel, "embedContent")
	} else {
		batch := wire.BatchEmbedContentsRequest{Requests: make([]wire.EmbedContentRequest, len(req.Input))}
		for i, in := range req.Input {
			batch.Requests[i] = one(in)
			batch.Requests[i].Model = "models/" + req.UpstreamModel
		}
		body, _ = json.Marshal(&batch)
		u = p.MethodURL(req.UpstreamModel, "batchEmbedContents")
	}
	call, err := p.up.Open(ctx, p.up.FirstTokenTimeout, func(ctx context.Context) (*http.Response, error) {
		return p.post(ctx, u, body, false, nil)
	}, p.upstreamError)
	if err != nil {
		return nil, err
	}
	b, err := call.ReadAll()
	if err != nil {
		return nil, err
	}
	out, err := DecodeEmbeddings(b, len(req.Input), req.UpstreamModel)
	if err != nil {
		return nil, err
	}
	// Gemini reports no usage for embeddings: the inputs' tokens are
	// estimated offline, so that they are metered and priced.
	if out.Usage.InputTokens == 0 {
		if n, err := tokens.Text(req.Input...); err == nil {
			out.Usage.InputTokens = n
		}
	}
	return out, nil
}

// DecodeEmbeddings decodes an embedContent (n == 1) or batchEmbedContents
// answer.
func DecodeEmbeddings(b []byte, n int, model string) (*llm.EmbeddingResponse, error) {
	out := &llm.EmbeddingResponse{Model: model}
	bad := func(err error) error {
		return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned embeddings that are not valid JSON", Err: err}
	}
	if n == 1 {
		var r wire.EmbedContentResponse
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, bad(err)
		}
		out.Vectors = [][]float32{r.Embedding.Values}
	} else {
		var r wire.BatchEmbedContentsResponse
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, bad(err)
		}
		if len(r.Embeddings) != n {
			return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned " + strconv.Itoa(len(r.Embeddings)) + " embeddings for " + strconv.Itoa(n) + " inputs"}
		}
		for _, e := range r.Embeddings {
			out.Vectors = append(out.Vectors, e.Values)
		}
	}
	for i, v := range out.Vectors {
		if len(v) == 0 {
			return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned no embedding for input " + strconv.Itoa(i)}
		}
	}
	return out, nil
}

// CloseIdleConnections closes the provider's idle upstream connections
// (after a reload replaced it, and in leak tests).
func (p *Provider) CloseIdleConnections() { p.up.CloseIdleConnections() }
