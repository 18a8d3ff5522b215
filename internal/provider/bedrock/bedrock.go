// Package bedrock is the provider codec for AWS Bedrock's Converse and
// ConverseStream APIs (and InvokeModel for Titan and Cohere embeddings).
// It turns canonical requests into Converse bodies, signs them with SigV4,
// and turns Converse answers and ConverseStream's binary event stream
// (application/vnd.amazon.eventstream) into canonical events.
//
// It must never import a front door or the gateway, nor an AWS service
// client: it speaks the wire protocol itself, using only AWS's SigV4 signer,
// event-stream codec and credential types.
//
// What cannot be expressed on Bedrock is refused with KindInvalid rather
// than dropped: n > 1, http(s) image URLs, audio and file parts,
// tool_choice "none" in a conversation that already used tools,
// response_format together with tools, and reasoning_effort for models
// other than Anthropic's. JSON output (response_format) is a forced tool
// named json_tool_call whose input is returned as the message text.
// Fields a client sends for the Bedrock family (Request.Extra with
// ExtraFamily "bedrock", such as guardrailConfig) are passed through; no
// front door produces them today. seed and user have no Bedrock
// equivalent and are ignored as the hints they are; metadata becomes
// requestMetadata.
package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/bedrock"
)

// Kind is the provider type name used in configuration.
const Kind = "bedrock"

// SigningService is the SigV4 service name of the Bedrock runtime.
const SigningService = "bedrock"

// Config configures one Bedrock runtime endpoint.
type Config struct {
	// Name identifies the provider in metrics, logs and usage records.
	Name string
	// Region is the AWS region, such as "us-east-1"; it is part of the
	// signature and of the default endpoint.
	Region string
	// BaseURL overrides the endpoint
	// https://bedrock-runtime.{region}.amazonaws.com (the simulator, a VPC
	// endpoint).
	BaseURL string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials; when AccessKeyID is empty the standard credential chain
	// is used (see Credentials).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Credentials, when set, replaces both the static keys and the chain.
	Credentials aws.CredentialsProvider
	// Headers are extra headers sent (and signed) with every request.
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
	// MaxResponseBytes caps a whole response body and an event-stream
	// frame.
	MaxResponseBytes int
}

// Provider is a Bedrock runtime endpoint.
type Provider struct {
	cfg    Config
	client *http.Client
	base   string
	signer *v4.Signer

	credsOnce sync.Once
	creds     aws.CredentialsProvider
}

// New builds a provider; it opens no connection and resolves no
// credentials (the credential chain is loaded on first use).
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
	if base == "" {
		base = "https://bedrock-runtime." + cfg.Region + ".amazonaws.com"
	}
	return &Provider{
		cfg:    cfg,
		client: &http.Client{Transport: tr},
		base:   base,
		signer: v4.NewSigner(),
	}
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.cfg.Name }

// credentials returns the credentials provider, building it on first use:
// static keys when configured, else the default chain behind a cache.
func (p *Provider) credentials() aws.CredentialsProvider {
	p.credsOnce.Do(func() {
		switch {
		case p.cfg.Credentials != nil:
			p.creds = p.cfg.Credentials
		case p.cfg.AccessKeyID != "":
			c := aws.Credentials{AccessKeyID: p.cfg.AccessKeyID, SecretAccessKey: p.cfg.SecretAccessKey,
				SessionToken: p.cfg.SessionToken, Source: "causeway-config"}
			p.creds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil })
		default:
			p.creds = aws.NewCredentialsCache(defaultChain(p.client))
		}
	})
	return p.creds
}

// ModelPath returns the request path for a model and an operation
// ("converse", "converse-stream", "invoke"). The model id is escaped as
// the AWS SDKs escape a path label: everything but unreserved characters,
// so an inference profile id's ':' travels as %3A.
func ModelPath(model, op string) string {
	return "/model/" + escapeLabel(model) + "/" + op
}

func escapeLabel(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// post signs and sends body to path.
func (p *Provider) post(ctx context.Context, path string, body []byte, accept string, extra map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "could not build the upstream request", Err: err}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", accept)
	for k, v := range p.cfg.Headers {
		h.Set(k, v)
	}
	for k, v := range extra {
		h.Set(k, v)
	}
	creds, err := p.credentials().Retrieve(ctx)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindUnavailable, Message: "could not obtain AWS credentials for " + p.cfg.Name, Err: err}
	}
	sum := sha256.Sum256(body)
	if err := p.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningService, p.cfg.Region, time.Now()); err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "could not sign the upstream request", Err: err}
	}
	return p.client.Do(req)
}

// Chat implements the gateway's Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, jsonMode, err := EncodeRequest(req)
	if err != nil {
		return nil, err
	}
	var extra map[string]string
	if req.ExtraFamily == Kind {
		extra = req.ExtraHeaders
	}
	op, accept := "converse", "application/json"
	if req.Stream {
		op, accept = "converse-stream", wire.EventStreamContentType
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.TotalTimeout)
	// A whole answer arrives only when generation is done: the total
	// timeout bounds it, the first-token timeout bounds streams.
	first := p.cfg.FirstTokenTimeout
	if !req.Stream {
		first = p.cfg.TotalTimeout + time.Minute
	}
	wd := newWatchdog(first, p.cfg.IdleTimeout, cancel)
	resp, err := p.post(ctx, ModelPath(req.UpstreamModel, op), body, accept, extra)
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
	id := resp.Header.Get("X-Amzn-Requestid")
	if !req.Stream {
		defer cancel()
		defer wd.stop()
		defer resp.Body.Close()
		b, err := readAll(resp.Body, p.cfg.MaxResponseBytes)
		if err != nil {
			return nil, wd.explain(ctx, err)
		}
		evs, err := DecodeResponse(b, id, req.UpstreamModel, jsonMode)
		if err != nil {
			return nil, err
		}
		return &sliceStream{events: evs}, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, wire.EventStreamContentType) {
		resp.Body.Close()
		wd.stop()
		cancel()
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream answered a streaming request with Content-Type " + ct}
	}
	return newStream(ctx, cancel, wd, resp.Body, id, req.UpstreamModel, jsonMode, p.cfg.MaxResponseBytes), nil
}

// upstreamError turns a non-2xx answer into an *llm.Error from the
// x-amzn-ErrorType header and the {"message"} body.
func (p *Provider) upstreamError(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := readAll(resp.Body, 64<<10)
	return ErrorFromResponse(p.cfg.Name, resp.StatusCode, resp.Header, b)
}

// ErrorFromResponse maps a Bedrock error answer to an *llm.Error.
func ErrorFromResponse(name string, status int, h http.Header, body []byte) *llm.Error {
	typ := h.Get(wire.HeaderErrorType)
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	var eb struct {
		Message  string `json:"message"`
		MessageU string `json:"Message"`
		Type     string `json:"__type"`
	}
	msg := ""
	if json.Unmarshal(body, &eb) == nil {
		msg = eb.Message
		if msg == "" {
			msg = eb.MessageU
		}
		if typ == "" && eb.Type != "" {
			typ = eb.Type
			if i := strings.LastIndexByte(typ, '#'); i >= 0 {
				typ = typ[i+1:]
			}
		}
	} else if len(body) > 0 && len(body) < 512 {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	label := strconv.Itoa(status)
	if typ != "" {
		label += " " + typ
	}
	e := &llm.Error{Status: status, Code: typ, Message: "upstream " + name + " returned " + label + ": " + msg}
	e.Kind = kindOf(typ, status)
	if e.Kind == llm.KindRateLimited {
		e.RetryAfter = retryAfter(h.Get("Retry-After"))
	}
	return e
}

// kindOf maps a Bedrock error or exception type (either capitalisation:
// HTTP errors say ThrottlingException, stream exceptions
// throttlingException) to a Kind, falling back on the status.
func kindOf(typ string, status int) llm.Kind {
	switch strings.ToLower(typ) {
	case "throttlingexception", "toomanyrequestsexception", "servicequotaexceededexception":
		return llm.KindRateLimited
	case "validationexception":
		return llm.KindInvalid
	case "modelnotreadyexception", "serviceunavailableexception":
		return llm.KindUnavailable
	case "modeltimeoutexception":
		return llm.KindTimeout
	case "accessdeniedexception", "unrecognizedclientexception", "invalidsignatureexception",
		"expiredtokenexception", "missingauthenticationtokenexception", "resourcenotfoundexception",
		"internalserverexception", "modelstreamerrorexception", "modelerrorexception":
		// Credentials, permissions and model access are our
		// configuration's business, not the client's: a 502.
		return llm.KindUpstream
	}
	switch s := status; {
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		return llm.KindInvalid
	case s == http.StatusRequestEntityTooLarge:
		return llm.KindTooLarge
	case s == http.StatusTooManyRequests:
		return llm.KindRateLimited
	case s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout:
		return llm.KindTimeout
	case s == http.StatusServiceUnavailable:
		return llm.KindUnavailable
	}
	return llm.KindUpstream
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

// watchdog cancels a call whose upstream is silent for too long and
// remembers why, so the error says which timeout fired. It uses one timer,
// reset on every event.
type watchdog struct {
	t     *time.Timer
	state atomic.Int32 // 0 waiting for the first event, 3 streaming
	fired atomic.Int32 // 1 first token, 2 idle
	idle  time.Duration
	first time.Duration
}

func newWatchdog(first, idle time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{idle: idle, first: first}
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
