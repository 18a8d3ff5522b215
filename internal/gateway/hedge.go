package gateway

import (
	"context"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/route"
)

// hedged runs a request as a hedge: the first target at once and, if it
// has not answered within the hedge delay (the alias's hedge_after, else
// the target's p95 time to first token), the second too. The first to
// commit wins; the other is canceled and metered with what it consumed.
// ok is false when the request cannot be hedged (one target, or no
// latency history yet) and must be routed normally.
func (g *Gateway) hedged(ctx context.Context, p *identity.Principal, alias *Alias, req *llm.Request, rid string, rr route.Request) (call *Call, err error, ok bool) {
	now := time.Now()
	plan := alias.Pool.Plan(rr, now)
	if len(plan) < 2 {
		return nil, nil, false
	}
	delay := alias.HedgeAfter
	if delay <= 0 {
		delay = alias.Pool.Members[plan[0]].Health.P95()
	}
	if delay <= 0 {
		return nil, nil, false
	}
	type result struct {
		c   *Call
		err error
		k   int
	}
	results := make(chan result, 2)
	var aborts [2]context.CancelFunc
	launched := 0
	launch := func() bool {
		k := launched
		i := plan[k]
		if !alias.Pool.Acquire(i, time.Now()) {
			return false
		}
		if k == 0 {
			alias.Pool.Members[i].Health.FirstAttempt()
		}
		abort, cancel := context.WithCancel(context.Background())
		aborts[k] = cancel
		launched++
		go func() {
			c, err := g.try(ctx, p, alias, attempt{alias: alias, index: i, n: k + 1}, req, rid, abort)
			results <- result{c, err, k}
		}()
		return true
	}
	if !launch() {
		return nil, nil, false
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	received := 0
	var lastErr error
	for {
		select {
		case <-timer.C:
			if launched == 1 && launch() {
				g.m.Hedges.WithLabelValues(alias.Name).Inc()
			}
		case r := <-results:
			received++
			if r.err == nil {
				if launched > received {
					// The other attempt loses: cancel it, and meter it
					// with what it consumed when it returns.
					aborts[1-r.k]()
					go func() {
						if lr := <-results; lr.c != nil {
							lr.c.Finish(ErrClientGone)
						}
					}()
				}
				// The winner's abort stays armed but unused: canceling it
				// would cut the answer being streamed.
				return r.c, nil, true
			}
			lastErr = r.err
			if launched > received {
				continue // the other may still win
			}
			if launched == 1 && ctx.Err() == nil && alias.FallbackOn&classOf(r.err) != 0 && launch() {
				continue // the first failed before the hedge was due: try the second now
			}
			for _, a := range aborts {
				if a != nil {
					a()
				}
			}
			return nil, lastErr, true
		}
	}
}
