// Package azure is the provider for Azure OpenAI. Azure speaks OpenAI's
// Chat Completions and Embeddings wire format, so this package reuses the
// openai provider's codec and transport and adds only what differs:
//
//   - where requests go: a deployment route,
//     {base}/openai/deployments/{deployment}/chat/completions?api-version=V
//     (and .../embeddings), or, with api_version "v1", the version-less
//     surface {base}/openai/v1/chat/completions with the deployment as
//     "model" in the body;
//   - how they authenticate: the api-key header, or a Microsoft Entra ID
//     bearer token;
//   - which request fields an older api-version rejects (stream_options
//     before 2024-09-01-preview, max_completion_tokens before
//     2024-12-01-preview);
//   - Azure's error bodies, Retry-After-Ms and content filter verdicts,
//     which the openai codec reads as annotations.
//
// The gateway gives the deployment as the request's UpstreamModel (a
// target's deployment overrides its model; the model still prices it).
//
// Entra ID auth takes either a bearer token as configured (refreshing it
// is then the operator's job, e.g. by reloading the configuration with a
// new ${AZURE_OPENAI_AD_TOKEN}), or a service principal (tenant, client
// id and secret): Causeway then gets tokens with the OAuth 2.0 client
// credentials grant (golang.org/x/oauth2) and renews each before it
// expires.
//
// It must never import a front door; it owns no policy, routing or
// metering.
package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/openai"
)

// Kind is the provider type name used in configuration.
const Kind = "azure"

// DefaultAPIVersion is the api-version used when none is configured: the
// latest generally available dated version.
const DefaultAPIVersion = "2024-10-21"

// V1 selects the version-less /openai/v1/ surface.
const V1 = "v1"

// Auth modes.
const (
	AuthAPIKey = "api-key"
	AuthEntra  = "entra"
)

// Config configures one Azure OpenAI resource.
type Config struct {
	// Name identifies the provider in metrics, logs and usage records.
	Name string
	// BaseURL is the resource endpoint, such as
	// https://my-resource.openai.azure.com (no /openai path).
	BaseURL string
	// APIVersion is the api-version query parameter, or "v1" for the
	// /openai/v1/ surface; empty means DefaultAPIVersion.
	APIVersion string
	// Auth is "api-key" (the default) or "entra".
	Auth string
	// APIKey is the resource key (api-key auth) or the Entra ID access
	// token (entra auth without a service principal).
	APIKey string
	// TenantID, ClientID and ClientSecret are an Entra ID service
	// principal (entra auth): tokens are fetched from TokenURL (default
	// https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token) for
	// the Cognitive Services scope and renewed before they expire.
	TenantID, ClientID, ClientSecret, TokenURL string
	// Headers are extra headers sent with every request.
	Headers map[string]string
	// Timeouts, as in openai.Config.
	ConnectTimeout, FirstTokenTimeout, IdleTimeout, TotalTimeout time.Duration
	// MaxIdleConns is the idle connection pool size for the resource.
	MaxIdleConns int
}

// Provider is an Azure OpenAI resource.
type Provider struct {
	*openai.Provider
	version string
}

// Chat implements the gateway's Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	st, err := p.Provider.Chat(ctx, req)
	return st, p.explain(err, req.UpstreamModel)
}

// Embed implements the gateway's Provider.
func (p *Provider) Embed(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	resp, err := p.Provider.Embed(ctx, req)
	return resp, p.explain(err, req.UpstreamModel)
}

// explain turns Azure's answers to a misconfigured provider (an api-version
// the resource does not take, a route or deployment it does not have) into
// upstream errors that say what to fix: they are the operator's to fix,
// not the client's, so they are never a 400.
func (p *Provider) explain(err error, deployment string) error {
	e, ok := errors.AsType[*llm.Error](err)
	if !ok || e.Status == 0 {
		return err
	}
	var hint string
	switch {
	case e.Status == http.StatusBadRequest && strings.Contains(e.Message, "API version not supported"):
		hint = "the resource does not support api_version " + strconv.Quote(p.version) + "; set the provider's api_version to one it supports"
	case e.Status == http.StatusNotFound && strings.Contains(e.Message, "DeploymentNotFound"),
		e.Status == http.StatusNotFound && strings.Contains(e.Message, "deployment"):
		hint = "the resource has no deployment " + strconv.Quote(deployment) + "; check the target's deployment"
	case e.Status == http.StatusNotFound:
		hint = "check the provider's base_url (the resource endpoint, without /openai) and api_version " + strconv.Quote(p.version)
	default:
		return err
	}
	return &llm.Error{Kind: llm.KindUpstream, Code: "upstream_misconfigured", Status: e.Status,
		Message: e.Message + " (" + hint + ")", Err: e.Err}
}

// New builds a provider; it opens no connection.
func New(cfg Config) (*Provider, error) {
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if err := checkVersion(cfg.APIVersion); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("azure: base_url %q is not an http or https URL", cfg.BaseURL)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	// An endpoint copied with its /openai suffix is still the resource.
	base = strings.TrimSuffix(base, "/openai")
	var authorize func(context.Context, http.Header) error
	switch cfg.Auth {
	case "", AuthAPIKey:
		key := cfg.APIKey
		authorize = func(_ context.Context, h http.Header) error {
			if key != "" {
				h.Set("Api-Key", key)
			}
			return nil
		}
	case AuthEntra:
		if cfg.ClientID == "" {
			bearer := "Bearer " + cfg.APIKey
			authorize = func(_ context.Context, h http.Header) error { h.Set("Authorization", bearer); return nil }
			break
		}
		if authorize, err = entra(cfg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("azure: auth %q is not one of %s, %s", cfg.Auth, AuthAPIKey, AuthEntra)
	}
	oc := openai.Config{
		Name: cfg.Name, BaseURL: base, Headers: cfg.Headers,
		ConnectTimeout: cfg.ConnectTimeout, FirstTokenTimeout: cfg.FirstTokenTimeout,
		IdleTimeout: cfg.IdleTimeout, TotalTimeout: cfg.TotalTimeout,
		MaxIdleConns: cfg.MaxIdleConns,
		Authorize:    authorize,
		Dialect:      DialectFor(cfg.APIVersion),
	}
	if cfg.APIVersion == V1 {
		chat, embed := base+"/openai/v1/chat/completions", base+"/openai/v1/embeddings"
		oc.ChatURL = func(string) string { return chat }
		oc.EmbedURL = func(string) string { return embed }
	} else {
		q := "?api-version=" + url.QueryEscape(cfg.APIVersion)
		oc.ChatURL = func(deployment string) string {
			return base + "/openai/deployments/" + url.PathEscape(deployment) + "/chat/completions" + q
		}
		oc.EmbedURL = func(deployment string) string {
			return base + "/openai/deployments/" + url.PathEscape(deployment) + "/embeddings" + q
		}
	}
	return &Provider{Provider: openai.New(oc), version: cfg.APIVersion}, nil
}

// checkVersion accepts "v1" and dated versions such as "2024-10-21" or
// "2025-04-01-preview". Whether the resource supports a version is for
// Azure to say; this catches typos before the first request.
func checkVersion(v string) error {
	if v == V1 {
		return nil
	}
	bad := fmt.Errorf("azure: api_version %q is neither %q nor a dated version such as %q or %q", v, V1, DefaultAPIVersion, "2025-04-01-preview")
	if len(v) < 10 || strings.ContainsAny(v, "?&#/ ") {
		return bad
	}
	if _, err := time.Parse("2006-01-02", v[:10]); err != nil {
		return bad
	}
	if rest := v[10:]; rest != "" && !strings.HasPrefix(rest, "-") {
		return bad
	}
	return nil
}

// DialectFor returns the request dialect an api-version accepts:
// stream_options (so streamed answers report usage) from
// 2024-09-01-preview on, max_completion_tokens from 2024-12-01-preview on
// (older versions take max_tokens). The v1 surface takes both.
func DialectFor(apiVersion string) openai.Dialect {
	if apiVersion == V1 || len(apiVersion) < 10 {
		return openai.Dialect{}
	}
	date := apiVersion[:10]
	return openai.Dialect{
		NoStreamOptions: date < "2024-09-01",
		LegacyMaxTokens: date < "2024-12-01",
	}
}

// EncodeChatRequest builds the upstream body for req as a resource on
// apiVersion takes it; the golden translation tests use it.
func EncodeChatRequest(req *llm.Request, apiVersion string) ([]byte, error) {
	return openai.EncodeChatRequestDialect(req, DialectFor(apiVersion))
}

// EntraScope is the scope of the tokens Azure OpenAI accepts.
const EntraScope = "https://cognitiveservices.azure.com/.default"

// entraTokenTimeout bounds one token request to Entra ID.
const entraTokenTimeout = 30 * time.Second

// entra authorizes with tokens of an Entra ID service principal, fetched
// with the client credentials grant and reused until 10 s before they
// expire. Concurrent requests share one fetch; each waits for it only as
// long as its own context allows.
func entra(cfg Config) (func(context.Context, http.Header) error, error) {
	if cfg.ClientSecret == "" || (cfg.TenantID == "" && cfg.TokenURL == "") {
		return nil, errors.New("azure: entra with client_id needs client_secret and tenant_id")
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = "https://login.microsoftonline.com/" + url.PathEscape(cfg.TenantID) + "/oauth2/v2.0/token"
	}
	e := &entraTokens{
		cc: &clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: tokenURL,
			Scopes: []string{EntraScope}, AuthStyle: oauth2.AuthStyleInParams},
		base: context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: entraTokenTimeout}),
	}
	return func(ctx context.Context, h http.Header) error {
		tok, err := e.token(ctx)
		if err != nil {
			return err
		}
		h.Set("Authorization", "Bearer "+tok)
		return nil
	}, nil
}

// entraTokens caches a service principal's token.
type entraTokens struct {
	cc   *clientcredentials.Config
	base context.Context // carries the token requests' HTTP client
	mu   sync.Mutex
	tok  *oauth2.Token
	g    singleflight.Group
}

func (e *entraTokens) token(ctx context.Context) (string, error) {
	e.mu.Lock()
	tok := e.tok
	e.mu.Unlock()
	if tok.Valid() { // and not within 10 s of expiring
		return tok.AccessToken, nil
	}
	ch := e.g.DoChan("token", func() (any, error) {
		// The fetch is not the caller's: it outlives a caller that gives
		// up, for the next one.
		fctx, cancel := context.WithTimeout(e.base, entraTokenTimeout)
		defer cancel()
		t, err := e.cc.Token(fctx)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		e.tok = t
		e.mu.Unlock()
		return t, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			// Entra's answer names the app and the tenant: the client
			// gets its error code; the whole answer stays in Err.
			code := "no answer"
			if re, ok := errors.AsType[*oauth2.RetrieveError](r.Err); ok && re.ErrorCode != "" {
				code = re.ErrorCode
			}
			return "", &llm.Error{Kind: llm.KindUpstream, Code: "upstream_misconfigured",
				Message: "could not get a Microsoft Entra ID token for the provider (" + code + ")", Err: r.Err}
		}
		return r.Val.(*oauth2.Token).AccessToken, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
