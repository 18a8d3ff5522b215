package gateway

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/route"
)

// classOf returns the failure class of err (0 for failures that never
// move a request, such as a bad request).
func classOf(err error) FallbackSet {
	e := llm.AsError(err)
	switch e.Kind {
	case llm.KindUpstream, llm.KindInternal:
		return OnServerError
	case llm.KindRateLimited:
		return OnRateLimit
	case llm.KindTimeout:
		return OnTimeout
	case llm.KindUnavailable:
		return OnConnection
	case llm.KindInvalid:
		if isContextLength(e) {
			return OnContextLength
		}
	}
	return 0
}

func isContextLength(e *llm.Error) bool {
	if e.Code == "context_length_exceeded" {
		return true
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "context length") || strings.Contains(m, "prompt is too long") ||
		strings.Contains(m, "input is too long") || strings.Contains(m, "too many tokens")
}

// unhealthy reports whether err counts against the target's health.
func unhealthy(err error) bool {
	switch llm.KindOf(err) {
	case llm.KindUpstream, llm.KindUnavailable, llm.KindTimeout:
		return true
	}
	return false
}

// routeRequest is what routing needs to know about the caller.
func (g *Gateway) routeRequest(ctx context.Context, p *identity.Principal, user string) route.Request {
	r := route.Request{StickyKey: user}
	if p.Key != nil {
		r.Allowed = p.Key.Regions
	}
	if team := (*g.teams.Load())[p.Team]; len(team) > 0 {
		if len(r.Allowed) == 0 {
			r.Allowed = team
		} else {
			// Held to both the key's and the team's regions.
			var both []string
			for _, reg := range r.Allowed {
				if slices.Contains(team, reg) {
					both = append(both, reg)
				}
			}
			if len(both) == 0 {
				both = []string{"(none: the key's and the team's regions do not meet)"}
			}
			r.Allowed = both
		}
	}
	if info := Info(ctx); info != nil {
		r.Prefer = info.PreferRegions
		if info.Session != "" {
			r.StickyKey = info.Session
		}
	}
	return r
}

// attempt is one try at one target.
type attempt struct {
	alias *Alias
	index int
	n     int
}

// run tries targets for a request until try succeeds, following the
// aliases' plans, retry policy, retry budgets and fallbacks. try returns
// nil once the attempt has committed.
func (g *Gateway) run(ctx context.Context, p *identity.Principal, first *Alias, rr route.Request, try func(a attempt) error) error {
	chain := []*Alias{first}
	for _, name := range first.Fallbacks {
		if a, ok := (*g.aliases.Load())[name]; ok {
			chain = append(chain, a)
		}
	}
	maxAttempts := max(first.Retry.MaxAttempts, 1)
	n := 0
	var lastErr error
	excluded := false // a target was left out for its region
	for ci, a := range chain {
		if ci > 0 && (lastErr == nil || first.FallbackOn&classOf(lastErr) == 0) {
			break
		}
		now := time.Now()
		plan := a.Pool.Plan(rr, now)
		if len(rr.Allowed) > 0 && len(plan) < len(a.Targets) {
			excluded = true
		}
		prev := -1
		for k := 0; n < maxAttempts && len(plan) > 0; k++ {
			i := plan[min(k, len(plan)-1)]
			h := a.Pool.Members[i].Health
			if i == prev {
				// Retrying the target that just failed: only within its
				// retry budget, after a backoff or what it asked for —
				// and never after it refused our credentials, which a
				// retry cannot fix.
				if st := llm.AsError(lastErr).Status; st == 401 || st == 403 || !h.AllowRetry() {
					break
				}
				wait := backoff(a.Retry, k)
				if e := llm.AsError(lastErr); e.RetryAfter > 0 {
					if e.RetryAfter > a.Retry.MaxRetryAfter {
						break
					}
					wait = max(wait, e.RetryAfter)
				}
				if !sleep(ctx, wait) {
					return lastErr
				}
			} else if n == 0 {
				h.FirstAttempt()
			}
			if !a.Pool.Acquire(i, time.Now()) {
				// A probing target with its probe in flight: skip it.
				if k >= len(plan)-1 {
					break
				}
				continue
			}
			n++
			err := try(attempt{alias: a, index: i, n: n})
			if err == nil {
				return nil
			}
			lastErr = err
			class := classOf(err)
			if ctx.Err() != nil || class == 0 || first.FallbackOn&class == 0 {
				return err
			}
			if class == OnContextLength {
				break // every target of this alias shares the limit: go to the fallbacks
			}
			prev = i
		}
		if n >= maxAttempts {
			break
		}
	}
	if lastErr == nil {
		if first.Pool.Capped(rr, time.Now()) {
			return &llm.Error{Kind: llm.KindRateLimited, Code: "target_rate_limit", RetryAfter: time.Second,
				Message: "Every target of model `" + first.Name + "` is at its configured rate limit; retry shortly."}
		}
		if excluded {
			return &llm.Error{Kind: llm.KindNoRoute, Code: "no_target_in_region",
				Message: "No target of model `" + first.Name + "` may serve this key: it is restricted to regions " + strings.Join(rr.Allowed, ", ") + "."}
		}
		return &llm.Error{Kind: llm.KindNoRoute, Message: "No target of model `" + first.Name + "` is available."}
	}
	if excluded && len(rr.Allowed) > 0 {
		e := llm.AsError(lastErr)
		return &llm.Error{Kind: llm.KindNoRoute, Code: "no_target_in_region", Err: lastErr,
			Message: "No target in the key's regions (" + strings.Join(rr.Allowed, ", ") + ") could serve model `" + first.Name + "`: " + e.Message}
	}
	return lastErr
}

// backoff is the jittered exponential wait before the k-th retry.
func backoff(r RetryPolicy, k int) time.Duration {
	d := r.Backoff << min(max(k-1, 0), 16)
	if d <= 0 || d > r.MaxBackoff {
		d = r.MaxBackoff
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
