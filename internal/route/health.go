// Package route decides where a request goes: the order in which an
// alias's targets are tried (strategy, stickiness, regions), which targets
// are healthy enough to try (outlier ejection with half-open probing), and
// how much retrying a target can bear (retry budgets). It holds no I/O: the
// gateway reports outcomes and asks for plans. It knows no SQL and no
// wire format.
package route

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// HealthOptions tune outlier ejection.
type HealthOptions struct {
	// ConsecutiveFailures ejects a target after this many failures in a
	// row. The default is 5.
	ConsecutiveFailures int
	// BaseEjection is the first ejection's length; each further ejection
	// of the same target doubles it, up to MaxEjection. The defaults are
	// 10s and 5m.
	BaseEjection time.Duration
	MaxEjection  time.Duration
}

func (o *HealthOptions) defaults() {
	if o.ConsecutiveFailures <= 0 {
		o.ConsecutiveFailures = 5
	}
	if o.BaseEjection <= 0 {
		o.BaseEjection = 10 * time.Second
	}
	if o.MaxEjection <= 0 {
		o.MaxEjection = 5 * time.Minute
	}
}

// State is a target's health state.
type State int

const (
	// Healthy targets take traffic.
	Healthy State = iota
	// Ejected targets take none until their ejection ends.
	Ejected
	// Probing targets' ejection has ended: one request at a time may try
	// them, and its outcome decides.
	Probing
)

func (s State) String() string {
	switch s {
	case Ejected:
		return "ejected"
	case Probing:
		return "probing"
	}
	return "healthy"
}

// Health is one target's outlier-detection state and latency estimate.
// One Health is shared by every alias that routes to the same target.
type Health struct {
	opts HealthOptions

	mu           sync.Mutex
	consecutive  int
	ejectedUntil time.Time
	ejections    int // ejections since the target was last healthy
	probe        bool
	everEjected  int64
	// coolUntil is when a rate-limited target's Retry-After ends; until
	// then plans skip it like an ejected one.
	coolUntil time.Time

	ewmaNanos atomic.Int64 // time to first token, EWMA
	recent    [64]time.Duration
	recentN   int // guarded by mu
	inflight  atomic.Int64
	budget    retryBudget
}

// NewHealth returns a healthy target's state.
func NewHealth(o HealthOptions) *Health {
	o.defaults()
	h := &Health{opts: o}
	h.budget.init()
	return h
}

// State returns the target's state at now.
func (h *Health) State(now time.Time) State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stateLocked(now)
}

func (h *Health) stateLocked(now time.Time) State {
	switch {
	case h.ejections == 0:
		return Healthy
	case now.Before(h.ejectedUntil):
		return Ejected
	}
	return Probing
}

// acquire reports whether a request may use the target now; for a probing
// target only one request at a time may.
func (h *Health) acquire(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.stateLocked(now) {
	case Ejected:
		return false
	case Probing:
		if h.probe {
			return false
		}
		h.probe = true
	}
	return true
}

// Success records a good attempt and its time to first token.
func (h *Health) Success(ttft time.Duration) {
	h.mu.Lock()
	h.consecutive = 0
	h.ejections = 0
	h.probe = false
	if ttft > 0 {
		h.recent[h.recentN%len(h.recent)] = ttft
		h.recentN++
	}
	h.mu.Unlock()
	if ttft > 0 {
		const alpha = 0.2
		old := h.ewmaNanos.Load()
		next := int64(ttft)
		if old != 0 {
			next = int64(alpha*float64(ttft) + (1-alpha)*float64(old))
		}
		h.ewmaNanos.Store(next)
	}
}

// Failure records a failed attempt. mayEject says whether the pool allows
// one more ejection; it reports whether the target was ejected.
func (h *Health) Failure(now time.Time, mayEject func() bool) bool {
	h.mu.Lock()
	h.consecutive++
	wasProbe := h.probe
	h.probe = false
	due := wasProbe || h.consecutive >= h.opts.ConsecutiveFailures
	first := h.ejections == 0
	h.mu.Unlock()
	if !due {
		return false
	}
	// mayEject looks at every member's state, this one's included, so it
	// runs without h.mu held.
	if !wasProbe && first && mayEject != nil && !mayEject() {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ejections > 0 && now.Before(h.ejectedUntil) {
		return false // a concurrent failure ejected it already
	}
	d := h.opts.BaseEjection << min(h.ejections, 20)
	if d <= 0 || d > h.opts.MaxEjection {
		d = h.opts.MaxEjection
	}
	h.ejections++
	h.everEjected++
	h.ejectedUntil = now.Add(d)
	return true
}

// RateLimited records that the target answered 429 and asked to be left
// alone for retryAfter (capped at MaxEjection). Plans skip it until then,
// so a rate-limited target does not take every request's first attempt.
func (h *Health) RateLimited(now time.Time, retryAfter time.Duration) {
	if retryAfter <= 0 {
		return
	}
	retryAfter = min(retryAfter, h.opts.MaxEjection)
	h.mu.Lock()
	if until := now.Add(retryAfter); until.After(h.coolUntil) {
		h.coolUntil = until
	}
	h.probe = false
	h.mu.Unlock()
}

// Cooling reports whether the target asked, with Retry-After, to be left
// alone at now.
func (h *Health) Cooling(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return now.Before(h.coolUntil)
}

// Latency returns the EWMA time to first token (0 before any success).
func (h *Health) Latency() time.Duration { return time.Duration(h.ewmaNanos.Load()) }

// P95 returns the 95th percentile of the last 64 times to first token, or
// 0 before there are 16 of them.
func (h *Health) P95() time.Duration {
	h.mu.Lock()
	n := min(h.recentN, len(h.recent))
	if n < 16 {
		h.mu.Unlock()
		return 0
	}
	xs := make([]time.Duration, n)
	copy(xs, h.recent[:n])
	h.mu.Unlock()
	slices.Sort(xs)
	return xs[(n*95+99)/100-1]
}

// Ejections returns how many times the target has been ejected.
func (h *Health) Ejections() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.everEjected
}

// EjectedUntil returns when the current ejection ends (zero if healthy).
func (h *Health) EjectedUntil() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ejections == 0 {
		return time.Time{}
	}
	return h.ejectedUntil
}

// Inflight returns the attempts currently running against the target.
func (h *Health) Inflight() int64 { return h.inflight.Load() }

// Begin and End bracket an attempt, for least-latency routing.
func (h *Health) Begin() { h.inflight.Add(1) }

// End closes an attempt begun with Begin.
func (h *Health) End() { h.inflight.Add(-1) }

// retryBudget lets retries of a target be at most a fifth of its
// requests, with a small reserve so a quiet target can still retry. A
// token bucket counted in fifths of a retry: every first attempt deposits
// one fifth, every retry withdraws five.
type retryBudget struct {
	mu     sync.Mutex
	fifths int
}

const (
	retryReserve = 3 * 5  // three retries
	retryCap     = 20 * 5 // twenty retries
)

func (b *retryBudget) init() { b.fifths = retryReserve }

func (b *retryBudget) deposit() {
	b.mu.Lock()
	b.fifths = min(b.fifths+1, retryCap)
	b.mu.Unlock()
}

func (b *retryBudget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fifths < 5 {
		return false
	}
	b.fifths -= 5
	return true
}

// FirstAttempt records a request's first attempt at the target (it earns
// retry budget).
func (h *Health) FirstAttempt() { h.budget.deposit() }

// AllowRetry spends retry budget for another attempt at the same target;
// false means the budget is spent and the request should not retry here.
func (h *Health) AllowRetry() bool { return h.budget.withdraw() }

// Release ends an acquired attempt that produced no verdict (the client
// went away first), so a probing target can be probed again.
func (h *Health) Release() {
	h.mu.Lock()
	h.probe = false
	h.mu.Unlock()
}
