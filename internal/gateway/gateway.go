// Package gateway is the request path every model request walks, whatever
// door it entered by: authenticate → policy → limits (budget) → route →
// provider → meter. Front doors call it with canonical requests; providers
// are reached only through it. It knows no wire format and no SQL.
package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/metrics"
	"github.com/causeway-ai/causeway/internal/route"
)

// Provider is one upstream wire protocol bound to one endpoint and
// credential. Implementations live in internal/provider/*.
type Provider interface {
	Name() string
	// Chat sends req (with UpstreamModel set) and returns its events. A
	// non-streaming request may be answered by a non-streaming upstream
	// call; its events are then yielded at once.
	Chat(ctx context.Context, req *llm.Request) (llm.Stream, error)
	Embed(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error)
}

// Target is one place an alias can be served.
type Target struct {
	Provider Provider
	// Model is the upstream model name.
	Model string
	// Region is where the target serves from.
	Region string
	// Price is what the target's tokens cost; Priced is false when neither
	// the config nor the catalog knew.
	Price  billing.Price
	Priced bool
}

// Alias is a model name clients use and the targets that serve it, in
// order of preference.
type Alias struct {
	Name    string
	Targets []Target
	Created int64
	// Pool routes among Targets (its Members parallel them).
	Pool *route.Pool
	// Retry bounds the attempts of one request.
	Retry RetryPolicy
	// FallbackOn says which failures move a request on.
	FallbackOn FallbackSet
	// Fallbacks are aliases tried after this one's targets.
	Fallbacks []string
	// CacheTTL, when positive, caches answers to deterministic requests.
	CacheTTL time.Duration
	// Hedge sends a second attempt to the next target when the first has
	// not answered within HedgeAfter (0: the target's p95 time to first
	// token).
	Hedge      bool
	HedgeAfter time.Duration
}

// RetryPolicy bounds a request's attempts.
type RetryPolicy struct {
	MaxAttempts   int
	Backoff       time.Duration
	MaxBackoff    time.Duration
	MaxRetryAfter time.Duration
}

// FallbackSet is a set of failure classes that move a request to another
// target.
type FallbackSet uint8

// Failure classes.
const (
	OnServerError FallbackSet = 1 << iota
	OnRateLimit
	OnTimeout
	OnConnection
	OnContextLength
)

// FallbackNames maps configuration names to classes.
var FallbackNames = map[string]FallbackSet{
	"server_error": OnServerError, "rate_limit": OnRateLimit, "timeout": OnTimeout,
	"connection": OnConnection, "context_length": OnContextLength,
}

// KeyStore looks keys up by hash.
type KeyStore interface {
	KeyByHash(ctx context.Context, hash string) (*identity.Key, error)
}

// ErrKeyNotFound must be returned (wrapped or not) by KeyStore for unknown
// hashes; gateway compares with errors.Is through the store's sentinel,
// which callers adapt by setting Options.IsNotFound.

// Options configure a Gateway.
type Options struct {
	Aliases  []*Alias
	Keys     KeyStore
	Meter    *billing.Meter
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	AdminKey string
	// IsNotFound reports whether a KeyStore error means "no such key".
	IsNotFound func(error) bool
	// DrainTimeout bounds how long an upstream is read after its client
	// has gone, to capture usage.
	DrainTimeout time.Duration
	// TeamRegions restricts each named team's requests to regions.
	TeamRegions map[string][]string
	// KeyCacheTTL is how long an authenticated key is trusted before it is
	// read again (so a revocation on another replica takes effect).
	KeyCacheTTL time.Duration
}

// Gateway is the request path.
type Gateway struct {
	aliases atomic.Pointer[map[string]*Alias]
	teams   atomic.Pointer[map[string][]string]
	order   atomic.Pointer[[]string]
	keys    KeyStore
	meter   *billing.Meter
	m       *metrics.Metrics
	log     *slog.Logger
	admin   []byte
	notFnd  func(error) bool
	drain   time.Duration
	ttl     time.Duration

	cache    *respCache
	keyCache sync.Map // key hash → *cachedKey
	limits   sync.Map // key id → *keyLimits

	// base is canceled by CancelAll.
	base       context.Context
	cancelBase context.CancelFunc

	// inflight counts attempts still being read (including drains after a
	// client left) so shutdown can wait for their usage.
	inflight sync.WaitGroup
}

type cachedKey struct {
	key     *identity.Key
	expires time.Time
}

// New builds a Gateway.
func New(o Options) *Gateway {
	g := &Gateway{
		keys: o.Keys, meter: o.Meter, m: o.Metrics, log: o.Logger,
		notFnd: o.IsNotFound, drain: o.DrainTimeout, ttl: o.KeyCacheTTL,
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.m == nil {
		g.m = metrics.New()
	}
	if g.drain <= 0 {
		g.drain = 30 * time.Second
	}
	if g.ttl <= 0 {
		g.ttl = 10 * time.Second
	}
	if g.notFnd == nil {
		g.notFnd = func(error) bool { return false }
	}
	if o.AdminKey != "" {
		g.admin = []byte(o.AdminKey)
	}
	g.base, g.cancelBase = context.WithCancel(context.Background())
	g.cache = newRespCache()
	g.SetAliases(o.Aliases)
	g.SetTeams(o.TeamRegions)
	return g
}

// SetTeams replaces the per-team region restrictions.
func (g *Gateway) SetTeams(regions map[string][]string) {
	if regions == nil {
		regions = map[string][]string{}
	}
	g.teams.Store(&regions)
}

// CloseIdle closes idle upstream connections of every provider that keeps
// a pool.
func (g *Gateway) CloseIdle() {
	for _, a := range *g.aliases.Load() {
		for _, t := range a.Targets {
			if c, ok := t.Provider.(interface{ CloseIdleConnections() }); ok {
				c.CloseIdleConnections()
			}
		}
	}
}

// CancelAll cancels every upstream attempt still running; each then ends
// and is metered with the usage it has.
func (g *Gateway) CancelAll() { g.cancelBase() }

// SetAliases replaces the routing table atomically; requests in flight
// keep the targets they resolved.
func (g *Gateway) SetAliases(as []*Alias) {
	m := make(map[string]*Alias, len(as))
	order := make([]string, 0, len(as))
	for _, a := range as {
		m[a.Name] = a
		order = append(order, a.Name)
	}
	g.aliases.Store(&m)
	g.order.Store(&order)
}

// Aliases returns the aliases the principal may use, in config order.
func (g *Gateway) Aliases(p *identity.Principal) []*Alias {
	m := *g.aliases.Load()
	var out []*Alias
	for _, name := range *g.order.Load() {
		if p.Key == nil || p.Key.AllowsModel(name) {
			out = append(out, m[name])
		}
	}
	return out
}

// Known reports whether name is a configured alias.
func (g *Gateway) Known(name string) bool {
	_, ok := (*g.aliases.Load())[name]
	return ok
}

// Alias resolves a model name for the principal: KindNotFound when no
// such alias exists, KindPermission when the key may not use it.
func (g *Gateway) Alias(p *identity.Principal, name string) (*Alias, error) {
	a, ok := (*g.aliases.Load())[name]
	if !ok {
		return nil, (&llm.Error{Kind: llm.KindNotFound, Param: "model",
			Message: "The model `" + name + "` does not exist or you do not have access to it."}).WithCode("model_not_found")
	}
	if p.Key != nil && !p.Key.AllowsModel(name) {
		return nil, (&llm.Error{Kind: llm.KindPermission, Param: "model",
			Message: "This key is not allowed to use the model `" + name + "`."}).WithCode("model_not_allowed")
	}
	return a, nil
}

var errNoKey = &llm.Error{Kind: llm.KindUnauthenticated, Code: "missing_api_key",
	Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."}

func errBadKey() *llm.Error {
	return &llm.Error{Kind: llm.KindUnauthenticated, Code: "invalid_api_key",
		Message: "Incorrect API key provided. You can find your Causeway keys with your administrator."}
}

// Authenticate turns a presented credential into a Principal. Unknown and
// revoked keys get the same answer, so a caller cannot tell them apart.
func (g *Gateway) Authenticate(ctx context.Context, credential string) (*identity.Principal, error) {
	if credential == "" {
		return nil, errNoKey
	}
	if !strings.HasPrefix(credential, identity.KeyPrefix) {
		// The admin key administers; it does not spend. Model calls need
		// a virtual key, so that every call has a budget and an owner.
		return nil, errBadKey()
	}
	hash := identity.HashKey(credential)
	now := time.Now()
	if v, ok := g.keyCache.Load(hash); ok {
		ck := v.(*cachedKey)
		if now.Before(ck.expires) {
			return principalOf(ck.key)
		}
	}
	k, err := g.keys.KeyByHash(ctx, hash)
	if err != nil {
		if g.notFnd(err) {
			g.keyCache.Delete(hash)
			return nil, errBadKey()
		}
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "could not check the API key", Err: err}
	}
	g.keyCache.Store(hash, &cachedKey{key: k, expires: now.Add(g.ttl)})
	return principalOf(k)
}

func principalOf(k *identity.Key) (*identity.Principal, error) {
	if k.Revoked() {
		return nil, errBadKey()
	}
	return &identity.Principal{Tenant: k.Tenant, Team: k.Team, User: k.User, Key: k}, nil
}

// IsAdmin reports whether credential is the bootstrap admin key.
func (g *Gateway) IsAdmin(credential string) bool {
	return len(g.admin) > 0 && subtle.ConstantTimeCompare([]byte(credential), g.admin) == 1
}

// ForgetKey drops a key from the authentication cache, so a revocation
// on this replica takes effect at once.
func (g *Gateway) ForgetKey(hash string) { g.keyCache.Delete(hash) }

// admit applies limits before any upstream call: today, the key's budget.
func (g *Gateway) admit(ctx context.Context, p *identity.Principal) error {
	if err := g.admitRate(p.Key, time.Now()); err != nil {
		return err
	}
	k := p.Key
	if k == nil || k.BudgetNanoUSD <= 0 || g.meter == nil {
		return nil
	}
	spent, err := g.meter.Spend(ctx, k.Tenant, k.ID)
	if err != nil {
		return &llm.Error{Kind: llm.KindInternal, Message: "could not read the key's spend", Err: err}
	}
	if spent >= k.BudgetNanoUSD {
		return &llm.Error{Kind: llm.KindBudgetExceeded, Code: "budget_exceeded",
			Message: "This key has reached its budget of $" + formatUSD(k.BudgetNanoUSD) + " (spent $" + formatUSD(spent) + ")."}
	}
	return nil
}

// Wait blocks until every upstream attempt, including drains after client
// disconnects, has finished and been metered, or ctx ends.
func (g *Gateway) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("gateway: upstream attempts still running at shutdown")
	}
}
