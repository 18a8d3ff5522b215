package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/route"
)

// Call is a committed chat attempt: its first content event has arrived,
// so the door may send headers. The door reads events with Next and must
// call Finish exactly once.
type Call struct {
	g       *Gateway
	p       *identity.Principal
	alias   *Alias
	target  *Target
	req     *llm.Request
	rid     string
	tie     usageTie
	attempt int
	pool    *route.Pool
	member  int
	stream  llm.Stream
	cancel  context.CancelFunc
	stopAF  func() bool

	// ID, Model and Created describe the response for the door.
	ID      string
	Model   string
	Created int64
	// Fingerprint is the upstream's system_fingerprint, if any.
	Fingerprint string
	// Provider and UpstreamModel say where the call went.
	Provider      string
	UpstreamModel string
	// Family is the target provider's reasoning family (see
	// llm.Part.Origin), "" when it names none.
	Family string

	pending  []llm.Event
	buffered interface{ Buffered() bool }
	// cacheKey is set when the answer may be cached; recorded collects
	// its events. cached marks a call answered from the cache.
	cacheKey string
	recorded []llm.Event
	cached   bool
	usage    llm.Usage
	sawUsage bool
	outChars int
	err      error
	eof      bool
	start    time.Time
	first    time.Time
	once     sync.Once
}

// Chat runs the request path up to the commit point: it resolves the
// alias, checks the budget, and tries the alias's targets in order until
// one yields a first content event. Errors before that point are returned
// (and the failed attempts metered); the door writes them in its shape.
func (g *Gateway) Chat(ctx context.Context, p *identity.Principal, req *llm.Request) (*Call, error) {
	alias, err := g.Alias(p, req.Model)
	if err != nil {
		return nil, err
	}
	if err := g.admit(ctx, p); err != nil {
		return nil, err
	}
	rid := RequestID(ctx)
	var key string
	if alias.CacheTTL > 0 && cacheable(req) && !cacheBypassed(ctx) {
		key = cacheKey(p.Tenant, alias.Name, req)
		if e := g.cache.get(key, time.Now()); e != nil {
			g.m.CacheRequests.WithLabelValues(alias.Name, "hit").Inc()
			return g.fromCache(ctx, p, alias, req, e)
		}
		g.m.CacheRequests.WithLabelValues(alias.Name, "miss").Inc()
	}
	rr := g.routeRequest(ctx, p, req.User)
	var call *Call
	if alias.Hedge {
		if c, err, ok := g.hedged(ctx, p, alias, req, rid, rr); ok {
			if err != nil {
				return nil, err
			}
			call = c
		}
	}
	if call == nil {
		err = g.run(ctx, p, alias, rr, func(a attempt) error {
			c, err := g.try(ctx, p, alias, a, req, rid, nil)
			call = c
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if key != "" {
		call.cacheKey = key
		call.recorded = append(call.recorded, call.pending...)
	}
	return call, nil
}

func cacheBypassed(ctx context.Context) bool {
	info := Info(ctx)
	return info != nil && info.NoCache
}

// upstreamContext detaches the upstream call from the client: when the
// client goes away the attempt continues for at most the drain timeout so
// that its usage can still be read and billed.
func (g *Gateway) upstreamContext(client context.Context) (context.Context, context.CancelFunc, func() bool) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(client))
	drain := g.drain
	if abortOnCancel(client) {
		drain = 0
	}
	stop := context.AfterFunc(client, func() {
		t := time.AfterFunc(drain, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	// A shutdown past its deadline cancels every attempt still running,
	// so each ends, and is metered, with what it got.
	stopBase := context.AfterFunc(g.base, cancel)
	return ctx, cancel, func() bool { stopBase(); return stop() }
}

// try makes one attempt. abort, when not nil, cancels the attempt at once
// when it is done (a hedge that lost).
func (g *Gateway) try(ctx context.Context, p *identity.Principal, alias *Alias, a attempt, req *llm.Request, rid string, abort context.Context) (*Call, error) {
	t := &a.alias.Targets[a.index]
	r := *req
	r.UpstreamModel = t.Model
	c := &Call{
		g: g, p: p, alias: alias, target: t, req: req, rid: rid, tie: tieOf(ctx), attempt: a.n,
		pool: a.alias.Pool, member: a.index,
		Model: alias.Name, Provider: t.Provider.Name(), UpstreamModel: t.Model, Family: familyOf(t.Provider),
		start: time.Now(),
	}
	c.pool.Members[a.index].Health.Begin()
	upCtx, cancel, stop := g.upstreamContext(ctx)
	if abort != nil {
		stopAbort := context.AfterFunc(abort, cancel)
		stop0 := stop
		stop = func() bool { stopAbort(); return stop0() }
	}
	c.cancel, c.stopAF = cancel, stop
	g.inflight.Add(1)
	st, err := t.Provider.Chat(upCtx, &r)
	if err == nil {
		c.stream = st
		c.buffered, _ = st.(interface{ Buffered() bool })
		err = c.preamble()
	}
	if err != nil {
		c.err = err
		c.finish(false)
		return nil, err
	}
	if c.ID == "" {
		c.ID = "chatcmpl-" + strings.TrimPrefix(rid, "req_")
	}
	if c.Created == 0 {
		c.Created = c.start.Unix()
	}
	return c, nil
}

// preamble reads events until the first content event, holding them.
func (c *Call) preamble() error {
	for {
		ev, err := c.stream.Next()
		if err != nil {
			if err == io.EOF {
				return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream ended its response before any content"}
			}
			return err
		}
		c.observe(&ev)
		switch ev.Type {
		case llm.EventStart:
			if ev.ID != "" {
				c.ID = ev.ID
			}
			if ev.Created != 0 {
				c.Created = ev.Created
			}
			c.Fingerprint = ev.SystemFingerprint
		}
		c.pending = append(c.pending, ev)
		if ev.IsContent() {
			c.first = time.Now()
			if c.pool != nil {
				c.pool.Members[c.member].Health.Success(c.first.Sub(c.start))
			}
			return nil
		}
	}
}

func (c *Call) observe(ev *llm.Event) {
	switch ev.Type {
	case llm.EventUsage:
		c.usage = ev.Usage
		c.sawUsage = true
	case llm.EventText, llm.EventReasoning, llm.EventRefusal:
		c.outChars += len(ev.Text)
	case llm.EventToolCall:
		c.outChars += len(ev.ToolCall.Arguments) + len(ev.ToolCall.Name)
	}
}

// Next returns the next event, io.EOF after the last one. Any other error
// ends the call: the door must end its stream with an explicit error.
func (c *Call) Next() (llm.Event, error) {
	if len(c.pending) > 0 {
		ev := c.pending[0]
		c.pending = c.pending[1:]
		return ev, nil
	}
	if c.eof {
		return llm.Event{}, io.EOF
	}
	if c.err != nil {
		return llm.Event{}, c.err
	}
	ev, err := c.stream.Next()
	if err != nil {
		if err == io.EOF {
			c.eof = true
		} else {
			c.err = err
		}
		return llm.Event{}, err
	}
	c.observe(&ev)
	if c.cacheKey != "" && len(c.recorded) <= cacheMaxEvents {
		c.recorded = append(c.recorded, ev)
	}
	return ev, nil
}

// Buffered reports whether the next event is already at hand, so a door
// may hold its write until it has sent everything that arrived together.
// Coalescing writes this way adds no latency.
func (c *Call) Buffered() bool {
	if len(c.pending) > 0 {
		return true
	}
	return c.buffered != nil && !c.eof && c.err == nil && c.buffered.Buffered()
}

// Usage returns the usage seen so far.
func (c *Call) Usage() (llm.Usage, bool) { return c.usage, c.sawUsage }

// Finish ends the call. clientErr is the error writing to the client, if
// any: when the client has gone before the upstream finished, the upstream
// is read on in the background (bounded by the drain timeout) so that what
// it produced is still billed.
func (c *Call) Finish(clientErr error) {
	c.once.Do(func() {
		if c.eof || c.err != nil {
			c.finish(clientErr != nil)
			return
		}
		go func() {
			for {
				if _, err := c.Next(); err != nil {
					break
				}
			}
			c.finish(true)
		}()
	})
}

// finish meters the attempt and releases it.
func (c *Call) finish(clientGone bool) {
	defer c.g.inflight.Done()
	if c.pool != nil {
		h := c.pool.Members[c.member].Health
		h.End()
		switch {
		case c.err != nil && llm.KindOf(c.err) == llm.KindRateLimited:
			h.RateLimited(time.Now(), llm.AsError(c.err).RetryAfter)
			h.Release()
		case c.err != nil && unhealthy(c.err):
			if c.pool.Failure(c.member, time.Now()) {
				c.g.m.Ejections.WithLabelValues(c.Provider, c.UpstreamModel).Inc()
				c.g.log.Warn("target ejected", slog.String("model", c.alias.Name), slog.String("provider", c.Provider),
					slog.String("upstream_model", c.UpstreamModel), slog.Time("until", h.EjectedUntil()))
			}
		case c.first.IsZero():
			h.Release()
		}
	}
	c.remember()
	if c.stream != nil {
		_ = c.stream.Close()
	}
	c.stopAF()
	c.cancel()
	end := time.Now()
	status := billing.StatusOK
	var kind string
	httpStatus := 200
	switch {
	case c.err != nil && c.first.IsZero():
		status = billing.StatusError
	case c.err != nil:
		status = billing.StatusPartial
	case clientGone:
		status = billing.StatusCanceled
	}
	if c.err != nil {
		e := llm.AsError(c.err)
		kind = e.Kind.String()
		httpStatus = e.Status
		if httpStatus == 0 {
			httpStatus = statusForKind(e.Kind)
		}
		if clientGone {
			status = billing.StatusCanceled
		}
	} else if clientGone {
		httpStatus = 499
	}
	u := c.usage
	if !c.sawUsage && !c.first.IsZero() {
		// The upstream sent no usage (some OpenAI-compatible servers
		// cannot): estimate rather than bill nothing, ~4 characters a token.
		u.OutputTokens = int64((c.outChars + 3) / 4)
		u.InputTokens = estimateInput(c.req)
	}
	if c.cached {
		u = llm.Usage{} // answered from memory: nothing was spent upstream
	}
	var cost int64
	if c.target.Priced {
		cost = c.target.Price.Cost(u)
	}
	rec := billing.Record{
		RequestID: c.rid, Attempt: c.attempt,
		Tenant: c.p.Tenant, Team: c.p.Team, User: c.p.User,
		Endpoint: "chat", Alias: c.alias.Name, Provider: c.Provider, UpstreamModel: c.UpstreamModel,
		InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CachedTokens: u.CachedInputTokens,
		CacheWrite: u.CacheWriteTokens, Reasoning: u.ReasoningTokens,
		CostNanoUSD: cost, Status: status, HTTPStatus: httpStatus, ErrorKind: kind,
		Streamed: c.req.Stream, StartedAt: c.start, Latency: end.Sub(c.start),
	}
	c.tie.apply(&rec)
	if c.p.Key != nil {
		rec.KeyID = c.p.Key.ID
	}
	if !c.first.IsZero() {
		rec.TTFT = c.first.Sub(c.start)
	}
	c.g.record(&rec, u)
	c.g.chargeTokens(c.p.Key, u)
	if c.err != nil {
		c.g.m.UpstreamErrors.WithLabelValues(c.Provider, kind).Inc()
		c.g.log.Warn("upstream attempt failed",
			slog.String("request_id", c.rid), slog.Int("attempt", c.attempt),
			slog.String("model", c.alias.Name), slog.String("provider", c.Provider),
			slog.String("status", status), slog.Any("error", c.err))
	}
}

func (g *Gateway) record(rec *billing.Record, u llm.Usage) {
	if g.meter != nil {
		g.meter.Record(*rec)
	}
	m := g.m
	m.Attempts.WithLabelValues(rec.Provider, rec.Status).Inc()
	if rec.TTFT > 0 {
		m.TTFT.WithLabelValues(rec.Alias, rec.Provider).Observe(rec.TTFT.Seconds())
	}
	if u.InputTokens > 0 {
		m.Tokens.WithLabelValues(rec.Alias, rec.Provider, "input").Add(float64(u.InputTokens))
	}
	if u.OutputTokens > 0 {
		m.Tokens.WithLabelValues(rec.Alias, rec.Provider, "output").Add(float64(u.OutputTokens))
	}
	if u.CachedInputTokens > 0 {
		m.Tokens.WithLabelValues(rec.Alias, rec.Provider, "cached").Add(float64(u.CachedInputTokens))
	}
	if u.ReasoningTokens > 0 {
		m.Tokens.WithLabelValues(rec.Alias, rec.Provider, "reasoning").Add(float64(u.ReasoningTokens))
	}
	if rec.CostNanoUSD > 0 {
		m.Cost.WithLabelValues(rec.Alias, rec.Provider).Add(billing.USD(rec.CostNanoUSD))
	}
}

func estimateInput(req *llm.Request) int64 {
	var n int
	for i := range req.Messages {
		n += 16
		for _, p := range req.Messages[i].Content {
			n += len(p.Text)
		}
	}
	return int64((n + 3) / 4)
}

func statusForKind(k llm.Kind) int {
	switch k {
	case llm.KindInvalid:
		return 400
	case llm.KindUnauthenticated:
		return 401
	case llm.KindPermission:
		return 403
	case llm.KindNotFound:
		return 404
	case llm.KindTooLarge:
		return 413
	case llm.KindRateLimited, llm.KindBudgetExceeded:
		return 429
	case llm.KindCanceled:
		return 499
	case llm.KindUpstream, llm.KindUnavailable:
		return 502
	case llm.KindTimeout:
		return 504
	}
	return 500
}

var errClientGone = errors.New("client went away")

// ErrClientGone is what doors pass to Finish when they know the client
// left but have no write error to hand.
var ErrClientGone = errClientGone
