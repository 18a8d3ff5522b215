// Package server assembles Causeway from its configuration: it opens the
// store, builds providers and the routing table, wires the gateway, the
// front doors and the admin API onto one ServeMux, and runs the HTTP
// server with a graceful shutdown that meters every request it served.
package server

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/time/rate"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/config"
	oaidoor "github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/metrics"
	"github.com/causeway-ai/causeway/internal/route"
	"github.com/causeway-ai/causeway/internal/store"
)

// Server is a running Causeway.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *store.Store
	meter   *billing.Meter
	gw      *gateway.Gateway
	metrics *metrics.Metrics
	handler http.Handler
	ready   atomic.Bool
	started time.Time
	// drains are waited for first at shutdown (background work that makes
	// upstream calls: background responses): wait until ctx is done,
	// then cut what is left and wait for it to be saved.
	drains []drainer
	// live is the configuration in force (a reload replaces it), for
	// the settings read at each use: tools, memory, compaction.
	live atomic.Pointer[config.Config]

	reloadMu sync.Mutex
	healths  map[string]*route.Health
	aliases  atomic.Pointer[[]*gateway.Alias]
	tools    *serverTools

	// extractor learns memories after turns (nil when off).
	extractor *memory.Extractor
}

// New builds a server from cfg on an open store. It owns st from then on
// and closes it in Shutdown.
func New(cfg *config.Config, st *store.Store, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := metrics.New()
	healths := map[string]*route.Health{}
	aliases, err := buildAliases(cfg, healths)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings() {
		log.Warn("config", slog.String("warning", w))
	}
	meter := billing.NewMeter(st, billing.MeterOptions{
		FlushInterval: cfg.Metering.FlushInterval.Std(),
		BatchSize:     cfg.Metering.BatchSize,
		Logger:        log,
		OnPending:     func(n int) { m.UsagePending.Set(float64(n)) },
		OnWriteError:  func(error) { m.UsageWriteErrors.Inc() },
	})
	gw := gateway.New(gateway.Options{
		Aliases:      aliases,
		Keys:         st,
		IsNotFound:   func(err error) bool { return errors.Is(err, store.ErrNotFound) },
		Meter:        meter,
		Metrics:      m,
		Logger:       log,
		AdminKey:     cfg.AdminKey.Reveal(),
		DrainTimeout: cfg.Metering.DrainTimeout.Std(),
		TeamRegions:  teamRegions(cfg),
	})
	s := &Server{cfg: cfg, log: log, store: st, meter: meter, gw: gw, metrics: m, started: time.Now(), healths: healths}
	s.aliases.Store(&aliases)
	if err := s.loadTools(cfg); err != nil {
		return nil, err
	}
	s.live.Store(cfg)
	m.Registry.MustRegister(targetCollector{s})
	s.handler = s.routes()
	s.ready.Store(true)
	return s, nil
}

// Reload applies a new configuration's providers, models, routing and
// prices without dropping requests in flight: they finish on the targets
// they already resolved. Targets that survive keep their health. Other
// settings (listen address, store, admin key, limits) need a restart and
// are reported as ignored.
func (s *Server) Reload(cfg *config.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	aliases, err := buildAliases(cfg, s.healths)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		s.log.Warn("config", slog.String("warning", w))
	}
	if err := s.loadTools(cfg); err != nil {
		return err
	}
	s.live.Store(cfg)
	if cfg.Listen != s.cfg.Listen || cfg.Store != s.cfg.Store || cfg.AdminKey != s.cfg.AdminKey {
		s.log.Warn("config reload: listen, store and admin_key changes take effect only after a restart")
	}
	s.gw.SetAliases(aliases)
	s.gw.SetTeams(teamRegions(cfg))
	s.aliases.Store(&aliases)
	s.log.Info("config reloaded", slog.Int("models", len(cfg.Models)), slog.Int("providers", len(cfg.Providers)))
	return nil
}

// BuildAliases turns the config's providers and models into the gateway's
// routing table.
func BuildAliases(cfg *config.Config) ([]*gateway.Alias, error) {
	return buildAliases(cfg, nil)
}

// buildAliases builds the routing table. healths carries target health
// across a reload: a target (provider and upstream model) that survives
// keeps its ejection state and latency estimate. It may be nil.
func buildAliases(cfg *config.Config, healths map[string]*route.Health) ([]*gateway.Alias, error) {
	if healths == nil {
		healths = map[string]*route.Health{}
	}
	providers := make(map[string]gateway.Provider, len(cfg.Providers))
	for _, p := range cfg.Providers {
		prov, err := buildProvider(p)
		if err != nil {
			return nil, err
		}
		providers[p.Name] = prov
	}
	cat := cfg.Catalog()
	now := time.Now().Unix()
	limits := map[string]*rate.Limiter{}
	aliases := make([]*gateway.Alias, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		a := &gateway.Alias{
			Name: m.Alias, Created: now, Fallbacks: m.Fallbacks, CacheTTL: m.CacheTTL.Std(),
			Hedge: m.Hedge, HedgeAfter: m.HedgeAfter.Std(),
			Retry: gateway.RetryPolicy{
				MaxAttempts: m.Retry.MaxAttempts, Backoff: m.Retry.Backoff.Std(),
				MaxBackoff: m.Retry.MaxBackoff.Std(), MaxRetryAfter: m.Retry.MaxRetryAfter.Std(),
			},
			Pool: &route.Pool{Strategy: route.Strategy(m.Strategy), Sticky: m.Sticky, MaxEjectedPercent: m.Health.MaxEjectedPercent},
		}
		for _, f := range m.FallbackOn {
			a.FallbackOn |= gateway.FallbackNames[f]
		}
		hopts := route.HealthOptions{
			ConsecutiveFailures: m.Health.ConsecutiveFailures,
			BaseEjection:        m.Health.BaseEjection.Std(),
			MaxEjection:         m.Health.MaxEjection.Std(),
		}
		for _, t := range m.Targets {
			prov, ok := providers[t.Provider]
			if !ok {
				return nil, fmt.Errorf("model %q: unknown provider %q", m.Alias, t.Provider)
			}
			price, priced := config.TargetPrice(t, cat)
			upstream := t.Model
			if t.Deployment != "" {
				// Azure addresses a deployment; the model names the price.
				upstream = t.Deployment
			}
			key := t.Provider + "/" + upstream
			h, ok := healths[key]
			if !ok {
				h = route.NewHealth(hopts)
				healths[key] = h
			}
			a.Targets = append(a.Targets, gateway.Target{Provider: prov, Model: upstream, Region: t.Region, Price: price, Priced: priced})
			m := route.Member{Health: h, Weight: t.Weight, Region: t.Region, Cost: float64(price.InputNano + price.OutputNano)}
			if t.RPM > 0 {
				// One cap per target, shared by every alias that uses it.
				lk := fmt.Sprintf("%s/%d", key, t.RPM)
				if limits[lk] == nil {
					limits[lk] = rate.NewLimiter(rate.Limit(float64(t.RPM)/60), max(1, t.RPM/60))
				}
				m.Limit = limits[lk]
			}
			a.Pool.Members = append(a.Pool.Members, m)
		}
		aliases = append(aliases, a)
	}
	return aliases, nil
}

func teamRegions(cfg *config.Config) map[string][]string {
	out := map[string][]string{}
	for _, t := range cfg.Teams {
		if len(t.Regions) > 0 {
			out[t.Name] = t.Regions
		}
	}
	return out
}

// providerBuilders maps a provider type to its constructor. Each provider
// type registers itself from its own file (provider_<type>.go).
var providerBuilders = map[string]func(config.Provider) (gateway.Provider, error){}

// doorRegistrars add a front door's routes; each door registers itself
// from its own file (door_<name>.go).
var doorRegistrars []func(s *Server, mux *http.ServeMux)

func buildProvider(p config.Provider) (gateway.Provider, error) {
	build, ok := providerBuilders[p.Type]
	if !ok {
		return nil, fmt.Errorf("provider %q: type %q is not built into this binary", p.Name, p.Type)
	}
	prov, err := build(p)
	if err != nil {
		return nil, fmt.Errorf("provider %q: %w", p.Name, err)
	}
	return prov, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Gateway returns the request path, for tests and embedding.
func (s *Server) Gateway() *gateway.Gateway { return s.gw }

// Store returns the server's store.
func (s *Server) Store() *store.Store { return s.store }

// Meter returns the usage meter.
func (s *Server) Meter() *billing.Meter { return s.meter }

// Serve serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish, waits for upstream drains,
// and writes every buffered usage record before returning.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		_ = s.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.log.Info("shutting down", slog.Duration("timeout", s.cfg.Metering.ShutdownTimeout.Std()))
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Metering.ShutdownTimeout.Std())
	defer cancel()
	herr := hs.Shutdown(sctx)
	if err := s.Shutdown(sctx); err != nil {
		return err
	}
	if herr != nil && !errors.Is(herr, http.ErrServerClosed) {
		return herr
	}
	return nil
}

// drainer is work that shutdown waits for, and cuts when out of time.
type drainer interface {
	Wait(ctx context.Context) error
	CancelAll()
}

// Shutdown waits for background responses and upstream attempts to be metered, flushes the meter
// and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	for _, d := range s.drains {
		if d.Wait(ctx) != nil {
			d.CancelAll()
			wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = d.Wait(wctx)
			cancel()
		}
	}
	if s.extractor != nil {
		// Pending memory extractions (of background responses too, so
		// after those) call the gateway: they finish, or time out,
		// before it is drained.
		done := make(chan struct{})
		go func() { s.extractor.Close(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.log.Warn("shutdown: memory extractions still running")
		}
	}
	werr := s.gw.Wait(ctx)
	if werr != nil {
		// Out of time: cut what is still running so that it is metered
		// with what it got, rather than lost.
		s.gw.CancelAll()
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		werr = s.gw.Wait(wctx)
		cancel()
	}
	if s.tools != nil {
		for _, srv := range s.tools.mcp {
			_ = srv.Close()
		}
	}
	// The final flush gets its own time: ctx may be spent by now.
	fctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	merr := s.meter.Close(fctx)
	cerr := s.store.Close()
	if werr != nil || merr != nil {
		s.log.Error("shutdown incomplete", slog.Any("wait", werr), slog.Any("meter", merr))
	} else {
		s.log.Info("shutdown complete: all usage written")
	}
	return errors.Join(werr, merr, cerr)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	door := &oaidoor.Handler{GW: s.gw, MaxBodyBytes: s.cfg.Limits.MaxBodyBytes}
	door.Register(mux)
	for _, register := range doorRegistrars {
		register(s, mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.registerAdmin(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		oaidoor.WriteError(w, (&notFound{path: r.URL.Path}).err())
	})
	return s.middleware(mux)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"shutting down"}`))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"store unavailable"}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}`))
}

// endpointOf names a path for metrics with a bounded set of values.
func endpointOf(path string) string {
	switch {
	case path == "/v1/chat/completions", path == "/v1/messages":
		return "chat"
	case path == "/v1/embeddings":
		return "embeddings"
	case strings.HasPrefix(path, "/v1/models"):
		return "models"
	case strings.HasPrefix(path, "/admin/"):
		return "admin"
	case path == "/metrics", path == "/healthz", path == "/readyz":
		return "ops"
	}
	return "other"
}
