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
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
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
	up     *upstream.Client
	base   string
	signer *v4.Signer

	credsOnce sync.Once
	creds     aws.CredentialsProvider
}

// New builds a provider; it opens no connection and resolves no
// credentials (the credential chain is loaded on first use).
func New(cfg Config) *Provider {
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = "https://bedrock-runtime." + cfg.Region + ".amazonaws.com"
	}
	return &Provider{
		cfg: cfg,
		up: upstream.NewClient(upstream.Limits{ConnectTimeout: cfg.ConnectTimeout, FirstTokenTimeout: cfg.FirstTokenTimeout,
			IdleTimeout: cfg.IdleTimeout, TotalTimeout: cfg.TotalTimeout, MaxIdleConns: cfg.MaxIdleConns, MaxResponseBytes: cfg.MaxResponseBytes}),
		base:   base,
		signer: v4.NewSigner(),
	}
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.cfg.Name }

// Family names the provider family whose reasoning this provider can
// replay (see llm.Part.Origin).
func (p *Provider) Family() string { return Kind }

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
			p.creds = aws.NewCredentialsCache(defaultChain(p.up.HTTP))
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
	return p.up.HTTP.Do(req)
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
	call, err := p.up.Open(ctx, p.up.ChatFirst(req.Stream), func(ctx context.Context) (*http.Response, error) {
		return p.post(ctx, ModelPath(req.UpstreamModel, op), body, accept, extra)
	}, p.upstreamError)
	if err != nil {
		return nil, err
	}
	id := call.Header.Get("X-Amzn-Requestid")
	if !req.Stream {
		return call.Whole(func(b []byte) ([]llm.Event, error) { return DecodeResponse(b, id, req.UpstreamModel, jsonMode) })
	}
	if err := call.Expect(wire.EventStreamContentType); err != nil {
		return nil, err
	}
	return newStream(call, id, req.UpstreamModel, jsonMode, p.up.MaxResponseBytes), nil
}

// upstreamError turns a non-2xx answer into an *llm.Error from the
// x-amzn-ErrorType header and the {"message"} body.
func (p *Provider) upstreamError(status int, h http.Header, b []byte) error {
	return ErrorFromResponse(p.cfg.Name, status, h, b)
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
		e.RetryAfter = upstream.RetryAfter(h.Get("Retry-After"))
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

// CloseIdleConnections closes the provider's idle upstream connections
// (after a reload replaced it, and in leak tests).
func (p *Provider) CloseIdleConnections() { p.up.CloseIdleConnections() }
