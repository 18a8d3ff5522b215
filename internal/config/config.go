// Package config reads Causeway's YAML configuration: it substitutes
// ${VAR} references from the environment, decodes strictly (an unknown
// key is an error with its line and column), applies defaults and
// validates the whole, reporting every problem at once.
//
// It must never print a secret: api keys and the admin key are Secret,
// which redacts itself in fmt, slog and JSON, and decode errors never
// quote the (substituted) source around the error.
//
// The doc comment of every field is the configuration reference: keep
// each a full sentence a user can read without the code.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"reflect"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/causeway-ai/causeway/internal/billing"
)

// Defaults applied when a field is absent.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultStore           = "./causeway-data/causeway.db"
	DefaultLogLevel        = "info"
	DefaultMaxBodyBytes    = 8 << 20
	DefaultFlushInterval   = Duration(200 * time.Millisecond)
	DefaultBatchSize       = 256
	DefaultDrainTimeout    = Duration(30 * time.Second)
	DefaultShutdownTimeout = Duration(30 * time.Second)
	DefaultConnectTimeout  = Duration(5 * time.Second)
	DefaultFirstToken      = Duration(60 * time.Second)
	DefaultIdleTimeout     = Duration(60 * time.Second)
	DefaultTotalTimeout    = Duration(10 * time.Minute)
	DefaultMaxIdleConns    = 256
)

// Environment variables that supply defaults.
const (
	EnvStore    = "CAUSEWAY_STORE"
	EnvAdminKey = "CAUSEWAY_ADMIN_KEY"
)

// ProviderTypes lists the upstream wire protocols a provider may speak.
// Adding a provider package adds its name here.
var ProviderTypes = []string{
	"openai",    // OpenAI and OpenAI-compatible servers: vLLM, Ollama, llama.cpp, the Causeway simulator.
	"azure",     // Azure OpenAI: deployment URLs, api-version, api-key or Microsoft Entra token.
	"anthropic", // Anthropic Messages API.
	"bedrock",   // AWS Bedrock Converse and ConverseStream, SigV4-signed.
	"gemini",    // Google Gemini (Generative Language API, or Vertex AI).
}

// baseURLOptional lists the provider types that have a default base URL.
var baseURLOptional = []string{"anthropic", "bedrock", "gemini"}

// Config is the whole configuration of a Causeway server.
type Config struct {
	// Listen is the host:port the gateway serves on. The default,
	// "127.0.0.1:8080", accepts local connections only; use ":8080" to
	// listen on every interface.
	Listen string `yaml:"listen"`
	// Store is where Causeway keeps keys, usage and state: a SQLite file
	// path or a postgres:// URL. When absent, the CAUSEWAY_STORE
	// environment variable is used, and failing that
	// "./causeway-data/causeway.db".
	Store string `yaml:"store"`
	// AdminKey authorises the admin API (Authorization: Bearer <key>).
	// When absent, the CAUSEWAY_ADMIN_KEY environment variable is used;
	// when both are empty the admin API is disabled.
	AdminKey Secret `yaml:"admin_key"`
	// Log configures the server's logging.
	Log Log `yaml:"log"`
	// Limits caps what a single request may ask of the gateway.
	Limits Limits `yaml:"limits"`
	// Metering tunes how usage records are written and how long the
	// gateway keeps reading upstream to learn a request's usage.
	Metering Metering `yaml:"metering"`
	// Providers are the upstream services models are served from.
	Providers []Provider `yaml:"providers"`
	// Models are the model names (aliases) clients may ask for, each
	// routed to one or more provider targets.
	Models []Model `yaml:"models"`
	// Prices overrides or extends the built-in price catalog, keyed by
	// upstream model name, in US dollars per million tokens.
	Prices map[string]PriceUSD `yaml:"prices"`
	// Teams holds per-team policy for the teams that keys name.
	Teams []Team `yaml:"teams"`
	// Tools are the server-side tools the Responses runtime executes on a
	// model's behalf, as the caller. A key uses only the tools it allows.
	Tools Tools `yaml:"tools"`
	// Compaction configures the summarising compaction of long Responses
	// contexts; see Compaction.
	Compaction *Compaction `yaml:"compaction"`
	// Memory configures long-term memory: embedding for similarity
	// search, and extraction of memories after each turn.
	Memory Memory `yaml:"memory"`
}

// Tools configures server-side tools.
type Tools struct {
	// HTTP tools call an HTTP endpoint with the model's arguments.
	HTTP []HTTPTool `yaml:"http"`
	// MCP lists Model Context Protocol servers whose tools are offered.
	MCP []MCPServer `yaml:"mcp"`
	// Sandbox offers a JavaScript sandbox tool when enabled.
	Sandbox Sandbox `yaml:"sandbox"`
	// MaxSteps caps the model calls of one response's tool loop. The
	// default is 8.
	MaxSteps int `yaml:"max_steps"`
	// RequireApproval names the server-side tools whose every call waits
	// for a person's approval through the API (an mcp_approval_request
	// in the response, answered by an mcp_approval_response). Entries are
	// tool names or path.Match patterns ("crm__*", "*").
	RequireApproval []string `yaml:"require_approval"`
	// MaxResponseCostUSD caps what one response's model calls may cost:
	// once they have cost this much the tool loop stops and the response
	// ends incomplete ("max_cost"). 0 means no cap.
	MaxResponseCostUSD float64 `yaml:"max_response_cost_usd"`
}

// NeedsApproval reports whether the configuration requires approval of
// calls to the server-side tool name.
func (t *Tools) NeedsApproval(name string) bool {
	for _, p := range t.RequireApproval {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// HTTPTool is a tool backed by an HTTP endpoint.
type HTTPTool struct {
	// Name is the function name the model calls. Required, unique.
	Name string `yaml:"name"`
	// Description tells the model what the tool does.
	Description string `yaml:"description"`
	// Method is the HTTP method. The default is GET.
	Method string `yaml:"method"`
	// URL is the endpoint; {name} placeholders are filled, escaped, from
	// the arguments. Remaining arguments go in the query (GET) or as a
	// JSON body (other methods).
	URL string `yaml:"url"`
	// Parameters is the JSON Schema of the arguments, written in YAML.
	Parameters map[string]any `yaml:"parameters"`
	// Headers are sent with every call; values may be secrets from the
	// environment and are never shown to the model.
	Headers map[string]Secret `yaml:"headers"`
	// AllowHosts lists hosts (or host:port) the tool may reach even
	// though they are loopback or private; every other destination must
	// be a public address. Redirects are re-checked.
	AllowHosts []string `yaml:"allow_hosts"`
	// Timeout bounds a call. The default is "10s".
	Timeout Duration `yaml:"timeout"`
	// MaxResponseBytes caps the body returned to the model. The default
	// is 65536.
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// IdentitySecret, when set, signs the caller's identity: every call
	// carries X-Causeway-Identity, an HMAC-SHA256 of the tenant and user
	// (X-Causeway-Tenant, X-Causeway-User) with this secret, so the
	// endpoint can check the gateway asserted them. Use "${VAR}".
	IdentitySecret Secret `yaml:"identity_secret"`
}

// MCPServer is a Model Context Protocol server.
type MCPServer struct {
	// Name prefixes its tools' names ("name__tool"). Required, unique.
	Name string `yaml:"name"`
	// URL is a Streamable HTTP endpoint; set URL or Command.
	URL string `yaml:"url"`
	// Command runs a stdio server (argv).
	Command []string `yaml:"command"`
	// Headers are sent to a Streamable HTTP server.
	Headers map[string]Secret `yaml:"headers"`
	// Pins maps a tool name to the SHA-256 (hex) of its description and
	// schema as approved; a tool whose description changes is disabled
	// until its pin is updated here. Tools without a pin here are pinned
	// on first sight in the store, and a change of one is approved through
	// the admin API (POST /admin/v1/tools/{name}/approve).
	Pins map[string]string `yaml:"pins"`
	// IdentitySecret, when set, signs the caller's identity sent with
	// every tool call to a Streamable HTTP server (X-Causeway-Identity,
	// an HMAC-SHA256 of tenant and user with this secret) and in the
	// request's _meta. Use "${VAR}".
	IdentitySecret Secret `yaml:"identity_secret"`
}

// Sandbox configures the JavaScript sandbox tool.
type Sandbox struct {
	// Enabled offers the tool "run_javascript". Off by default.
	Enabled bool `yaml:"enabled"`
	// Timeout bounds one run's CPU time. The default is "2s".
	Timeout Duration `yaml:"timeout"`
	// MemoryMB caps one run's memory. The default is 64.
	MemoryMB int `yaml:"memory_mb"`
}

// Team is the policy of one team (the team field of its keys).
type Team struct {
	// Name is the team, as keys name it.
	Name string `yaml:"name"`
	// Regions restricts where the team's requests are served, as a key's
	// regions do; a key with regions of its own is held to both.
	Regions []string `yaml:"regions"`
}

// Log configures logging.
type Log struct {
	// Level is the minimum level logged: "debug", "info", "warn" or
	// "error". The default is "info".
	Level string `yaml:"level"`
	// Requests turns on the access log: one line per request with its
	// request id, method, path, status, model, whether it streamed, bytes
	// written and duration. Tokens and cost are in the usage ledger. The
	// default is true.
	Requests bool `yaml:"requests"`
}

// Limits caps requests.
type Limits struct {
	// MaxBodyBytes is the largest request body accepted, in bytes; a
	// larger body is refused with 413. The default is 8388608 (8 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Metering tunes usage accounting.
type Metering struct {
	// FlushInterval is the longest a usage record waits in memory before
	// it is written to the store, such as "200ms" (the default).
	FlushInterval Duration `yaml:"flush_interval"`
	// BatchSize is the most usage records written in one transaction; a
	// full batch is written without waiting for FlushInterval. The
	// default is 256.
	BatchSize int `yaml:"batch_size"`
	// DrainTimeout is how long the gateway keeps reading an upstream
	// response after its client has gone away, so the usage it reports
	// at the end can be billed. The default is "30s".
	DrainTimeout Duration `yaml:"drain_timeout"`
	// ShutdownTimeout is how long a stopping server waits for requests
	// in flight to finish and for buffered usage to be written. The
	// default is "30s".
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Provider is an upstream service.
type Provider struct {
	// Name identifies the provider in model targets and in usage
	// records. It is required, unique, and made of lower-case letters,
	// digits, "_" and "-".
	Name string `yaml:"name"`
	// Type is the wire protocol the provider speaks. "openai" covers
	// OpenAI and every OpenAI-compatible server (vLLM, Ollama,
	// llama.cpp, the Causeway simulator).
	Type string `yaml:"type"`
	// BaseURL is the http or https URL requests are sent under, such as
	// "https://api.openai.com/v1". It is required.
	BaseURL string `yaml:"base_url"`
	// APIKey is the credential sent upstream. Write it as a reference
	// such as "${OPENAI_API_KEY}" rather than in the file; it is never
	// logged.
	APIKey Secret `yaml:"api_key"`
	// Headers are extra HTTP headers sent with every upstream request.
	Headers map[string]string `yaml:"headers"`
	// Timeouts bound each upstream attempt.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxIdleConns is the number of idle keep-alive connections kept
	// open to the provider's host. The default is 256.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// APIVersion is the protocol version the provider is called with:
	// Azure's api-version query parameter (default "2024-10-21"; "v1"
	// selects the /openai/v1/ surface), Anthropic's anthropic-version
	// header (default "2023-06-01"), or Gemini's version path (default
	// "v1beta" for the Gemini API, "v1" for Vertex AI; a base_url ending
	// in a version path such as ".../v1beta" sets it too). The openai and
	// bedrock types ignore it.
	APIVersion string `yaml:"api_version"`
	// Auth selects how the provider authenticates when it has more than
	// one way. Azure: "api-key" (the default; APIKey in the api-key
	// header) or "entra" (a Microsoft Entra ID service principal in
	// TenantID, ClientID and ClientSecret, or else APIKey as a bearer
	// token).
	// Gemini: "api-key" (the default; the x-goog-api-key header) or
	// "vertex" (Vertex AI with the service account in CredentialsFile).
	Auth string `yaml:"auth"`
	// Region is the cloud region: Bedrock's AWS region such as
	// "us-east-1" (required for bedrock), or Vertex AI's location such as
	// "us-central1".
	Region string `yaml:"region"`
	// AccessKeyID, SecretAccessKey and SessionToken are static AWS
	// credentials for Bedrock. When AccessKeyID is empty the standard AWS
	// credential chain is used (environment, shared config and
	// credentials files, container and instance roles).
	AccessKeyID Secret `yaml:"access_key_id"`
	// SecretAccessKey pairs with AccessKeyID.
	SecretAccessKey Secret `yaml:"secret_access_key"`
	// SessionToken is the AWS session token of temporary credentials.
	SessionToken Secret `yaml:"session_token"`
	// TenantID, ClientID and ClientSecret are a Microsoft Entra ID
	// service principal for an azure provider with auth "entra": Causeway
	// then gets its own tokens (client credentials grant) and renews them
	// before they expire, and api_key is not used. TokenURL overrides
	// the Entra token endpoint (sovereign clouds, tests).
	TenantID     string `yaml:"tenant_id"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	TokenURL     string `yaml:"token_url"`
	// Project is the Google Cloud project of a Vertex AI provider.
	Project string `yaml:"project"`
	// CredentialsFile is the path of a Google service-account JSON key
	// for Vertex AI. When empty, GOOGLE_APPLICATION_CREDENTIALS is used.
	CredentialsFile string `yaml:"credentials_file"`
}

// Timeouts bound an upstream attempt. A duration is written with a unit,
// such as "250ms", "5s" or "10m"; an absent or zero value takes the
// default.
type Timeouts struct {
	// Connect bounds establishing the connection, TLS included. The
	// default is "5s".
	Connect Duration `yaml:"connect"`
	// FirstToken bounds the wait from sending a streamed request to its
	// first event; until then the router may still fail over to another
	// target. A whole (non-streamed) answer arrives only when generation
	// is done, so it is bounded by Total instead. The default is "60s".
	FirstToken Duration `yaml:"first_token"`
	// Idle bounds the silence between two chunks of a streamed
	// response. The default is "60s".
	Idle Duration `yaml:"idle"`
	// Total bounds the whole attempt, streaming included. The default is
	// "10m".
	Total Duration `yaml:"total"`
}

// Model is a model name clients may use.
type Model struct {
	// Alias is the name clients send as "model". It is required and
	// unique.
	Alias string `yaml:"alias"`
	// Targets are where the alias is served. At least one is required.
	// Until a target has sent its first content token the request may
	// still move to another target; after that it is committed.
	Targets []Target `yaml:"targets"`
	// Strategy orders the targets for each request: "priority" (the
	// default: in the order listed), "weighted" (at random by weight),
	// "round_robin", "least_latency" (the faster of two random targets by
	// time to first token and requests in flight) or "lowest_cost".
	Strategy string `yaml:"strategy"`
	// Sticky keeps requests of the same session (the x-causeway-session
	// header) or, failing that, the same end user on one healthy target,
	// so provider prompt caches keep hitting. The default is false.
	Sticky bool `yaml:"sticky"`
	// FallbackOn lists the failures after which another target is tried:
	// "server_error" (5xx and malformed answers), "rate_limit" (429),
	// "timeout", "connection" (unreachable upstream) and
	// "context_length" (the prompt is too long for the target). The
	// default is every one but context_length.
	FallbackOn []string `yaml:"fallback_on"`
	// Fallbacks are other aliases tried, in order, when this alias's own
	// targets have failed with a failure in FallbackOn; typically a
	// larger-context alias for "context_length".
	Fallbacks []string `yaml:"fallbacks"`
	// Retry bounds the attempts of one request.
	Retry Retry `yaml:"retry"`
	// Health tunes when a failing target is ejected from the pool.
	Health Health `yaml:"health"`
	// CacheTTL turns on the exact-match response cache for this alias:
	// an identical deterministic request (temperature 0 or a seed, one
	// choice) from the same tenant within the TTL is answered from
	// memory, metered at no cost under provider "cache". Clients bypass
	// it with "Cache-Control: no-cache" or "x-causeway-cache: bypass".
	// Off by default.
	CacheTTL Duration `yaml:"cache_ttl"`
	// Hedge sends a second attempt to the next target when the first
	// has not sent its first token within HedgeAfter, takes whichever
	// answers first, and cancels (and meters) the other. It costs up to
	// twice the tokens for the slowest requests. Off by default.
	Hedge bool `yaml:"hedge"`
	// HedgeAfter is the hedge delay; 0 (the default) uses the first
	// target's recent 95th-percentile time to first token, and does not
	// hedge until 16 requests have measured it.
	HedgeAfter Duration `yaml:"hedge_after"`
}

// Retry bounds how a request is retried.
type Retry struct {
	// MaxAttempts is the most upstream attempts one request makes, across
	// targets and fallback aliases. The default is 3.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the first wait before retrying the same target; it
	// doubles with each retry, with full jitter, up to MaxBackoff. The
	// defaults are "100ms" and "2s". Moving to another target does not
	// wait.
	Backoff    Duration `yaml:"backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// MaxRetryAfter is the longest Retry-After an upstream may ask for
	// and still be waited for before retrying the same target; a longer
	// one ends the request with the upstream's 429. The default is "10s".
	MaxRetryAfter Duration `yaml:"max_retry_after"`
}

// Health tunes outlier ejection of an alias's targets.
type Health struct {
	// ConsecutiveFailures ejects a target after this many failed
	// attempts in a row. The default is 5.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// BaseEjection is how long a first ejection lasts; each further
	// ejection doubles it up to MaxEjection. After it, one probe request
	// at a time may try the target until one succeeds. The defaults are
	// "10s" and "5m".
	BaseEjection Duration `yaml:"base_ejection"`
	MaxEjection  Duration `yaml:"max_ejection"`
	// MaxEjectedPercent caps the share of the alias's targets ejected at
	// once; one target may always be ejected, so a two-target alias
	// protects itself. The default is 50.
	MaxEjectedPercent int `yaml:"max_ejected_percent"`
}

// FallbackKinds lists the values of fallback_on.
var FallbackKinds = []string{"server_error", "rate_limit", "timeout", "connection", "context_length"}

// Target is one upstream model an alias may be served by.
type Target struct {
	// Provider is the name of a provider in the providers section.
	Provider string `yaml:"provider"`
	// Model is the model name sent upstream, such as "gpt-4o-mini".
	Model string `yaml:"model"`
	// Weight is the target's share of traffic under the weighted
	// strategy. The default is 1.
	Weight int `yaml:"weight"`
	// RPM caps the requests per minute this server sends to the target
	// (per replica); a target at its cap is skipped for the next one, and
	// when every target is capped the client gets 429. 0, the default,
	// means no cap.
	RPM int `yaml:"rpm"`
	// Region is where the target serves from, such as "eu-west-1"; it
	// defaults to the provider's region. Keys restricted to regions only
	// ever use targets in them.
	Region string `yaml:"region"`
	// Deployment is the Azure OpenAI deployment name, when it differs
	// from Model. Model still names the underlying model, for pricing.
	Deployment string `yaml:"deployment"`
	// Price is what this target costs. When absent, the prices section
	// and then the built-in catalog are consulted by Model; a target
	// priced by none of them is served at no cost, with a warning at
	// startup.
	Price *PriceUSD `yaml:"price"`
}

// Load reads the configuration file at path, substitutes ${VAR}
// references from the process environment, decodes it strictly, applies
// defaults and validates it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse is Load for a configuration already in memory, with getenv in
// place of the process environment (os.LookupEnv has its signature). It
// is used by Load and by tests.
func Parse(data []byte, getenv func(string) (string, bool)) (*Config, error) {
	expanded, err := expand(data, getenv)
	if err != nil {
		return nil, err
	}
	c := defaults()
	if err := decode(expanded, c); err != nil {
		return nil, err
	}
	c.applyDefaults(getenv)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// defaults returns the configuration of an empty file, before the
// environment and per-provider defaults are applied. Decoding on top of
// it keeps a default wherever the file is silent, which a zero value
// cannot do for a bool such as log.requests.
func defaults() *Config {
	return &Config{
		Listen: DefaultListen,
		Log:    Log{Level: DefaultLogLevel, Requests: true},
		Limits: Limits{MaxBodyBytes: DefaultMaxBodyBytes},
		Metering: Metering{
			FlushInterval:   DefaultFlushInterval,
			BatchSize:       DefaultBatchSize,
			DrainTimeout:    DefaultDrainTimeout,
			ShutdownTimeout: DefaultShutdownTimeout,
		},
	}
}

// applyDefaults fills what decoding on top of defaults() cannot: values
// from the environment, defaults inside list elements, and fields the
// file set to zero (an explicit 0 or "" means the default too).
func (c *Config) applyDefaults(getenv func(string) (string, bool)) {
	setDefault(&c.Listen, DefaultListen)
	if c.Store == "" {
		c.Store = DefaultStore
		if v, ok := getenv(EnvStore); ok && v != "" {
			c.Store = v
		}
	}
	if c.AdminKey == "" {
		if v, ok := getenv(EnvAdminKey); ok {
			c.AdminKey = Secret(v)
		}
	}
	setDefault(&c.Log.Level, DefaultLogLevel)
	setDefault(&c.Limits.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.Metering.FlushInterval, DefaultFlushInterval)
	setDefault(&c.Metering.BatchSize, DefaultBatchSize)
	setDefault(&c.Metering.DrainTimeout, DefaultDrainTimeout)
	setDefault(&c.Metering.ShutdownTimeout, DefaultShutdownTimeout)
	for i := range c.Providers {
		p := &c.Providers[i]
		setDefault(&p.Timeouts.Connect, DefaultConnectTimeout)
		setDefault(&p.Timeouts.FirstToken, DefaultFirstToken)
		setDefault(&p.Timeouts.Idle, DefaultIdleTimeout)
		setDefault(&p.Timeouts.Total, DefaultTotalTimeout)
		setDefault(&p.MaxIdleConns, DefaultMaxIdleConns)
	}
	for i := range c.Models {
		m := &c.Models[i]
		setDefault(&m.Strategy, "priority")
		if m.FallbackOn == nil {
			m.FallbackOn = []string{"server_error", "rate_limit", "timeout", "connection"}
		}
		setDefault(&m.Retry.MaxAttempts, 3)
		setDefault(&m.Retry.Backoff, Duration(100*time.Millisecond))
		setDefault(&m.Retry.MaxBackoff, Duration(2*time.Second))
		setDefault(&m.Retry.MaxRetryAfter, Duration(10*time.Second))
		setDefault(&m.Health.ConsecutiveFailures, 5)
		setDefault(&m.Health.BaseEjection, Duration(10*time.Second))
		setDefault(&m.Health.MaxEjection, Duration(5*time.Minute))
		setDefault(&m.Health.MaxEjectedPercent, 50)
		for j := range m.Targets {
			t := &m.Targets[j]
			setDefault(&t.Weight, 1)
			if t.Region == "" {
				if p, ok := c.Provider(t.Provider); ok {
					t.Region = p.Region
				}
			}
		}
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// decode decodes one YAML document strictly into c. An empty document
// leaves c as it is.
func decode(data []byte, c *Config) (err error) {
	// The decoder is a third-party parser fed operator input; a bug in
	// it must surface as a bad config, not a crashed server.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode config: YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data), yaml.Strict())
	// Decode into a copy: go-yaml zeroes its target on an empty document.
	into := *c
	switch err := dec.Decode(&into); {
	case errors.Is(err, io.EOF):
		return nil // empty: keep the defaults
	case err != nil:
		return decodeError(err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("config must be a single YAML document")
	}
	*c = into
	return nil
}

// PositionError is a configuration error at a place in the file.
type PositionError struct {
	// Line and Column locate the error, counting from 1.
	Line, Column int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *PositionError) Error() string {
	return fmt.Sprintf("line %d:%d: %s", e.Line, e.Column, e.Msg)
}

func (e *PositionError) Unwrap() error { return e.Err }

// decodeError rewrites a YAML error as a PositionError without the
// source excerpt go-yaml would print: the source has been through
// ${VAR} substitution and may hold secrets.
func decodeError(err error) error {
	if pe, ok := errors.AsType[*PositionError](err); ok {
		return pe
	}
	ye, ok := errors.AsType[yaml.Error](err)
	if !ok || ye.GetToken() == nil {
		return fmt.Errorf("decode config: %w", err)
	}
	pos := ye.GetToken().Position
	msg := ye.GetMessage()
	if te, ok := errors.AsType[*yaml.TypeError](err); ok && te.DstType != nil && te.SrcType != nil {
		msg = fmt.Sprintf("want %s, got %s", kindName(te.DstType), kindName(te.SrcType))
	}
	return &PositionError{Line: pos.Line, Column: pos.Column, Msg: msg, Err: err}
}

// kindName names a Go type the way a YAML author thinks of it.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// Alias returns the model with the given alias.
func (c *Config) Alias(name string) (*Model, bool) {
	for i := range c.Models {
		if c.Models[i].Alias == name {
			return &c.Models[i], true
		}
	}
	return nil, false
}

// Provider returns the provider with the given name.
func (c *Config) Provider(name string) (*Provider, bool) {
	for i := range c.Providers {
		if c.Providers[i].Name == name {
			return &c.Providers[i], true
		}
	}
	return nil, false
}

// Catalog returns the built-in price catalog with the prices section
// applied on top.
func (c *Config) Catalog() *billing.Catalog {
	over := make(map[string]billing.Price, len(c.Prices))
	for name, p := range c.Prices {
		over[name] = p.Price()
	}
	return billing.DefaultCatalog().With(over)
}

// TargetPrice returns what t costs: its own price if it has one, else the
// catalog's price for its upstream model. ok is false when neither
// prices it (the target is then served at no cost).
func TargetPrice(t Target, catalog *billing.Catalog) (p billing.Price, ok bool) {
	if t.Price != nil {
		return t.Price.Price(), true
	}
	return catalog.Lookup(t.Model)
}

// Warnings returns problems that do not stop the server but that an
// operator should see at startup, such as targets without a price.
func (c *Config) Warnings() []string {
	var w []string
	cat := c.Catalog()
	for i, m := range c.Models {
		for j, t := range m.Targets {
			if _, ok := TargetPrice(t, cat); !ok {
				w = append(w, fmt.Sprintf("models[%d].targets[%d]: no price for upstream model %q (alias %q): its usage is recorded at no cost; set price on the target or add it to prices", i, j, t.Model, m.Alias))
			}
		}
	}
	return w
}
