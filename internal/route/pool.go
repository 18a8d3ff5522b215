package route

import (
	"cmp"

	"golang.org/x/time/rate"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// Strategy orders an alias's targets for each request.
type Strategy string

const (
	// Priority tries targets in configuration order (the default).
	Priority Strategy = "priority"
	// Weighted picks targets at random in proportion to their weights.
	Weighted Strategy = "weighted"
	// RoundRobin rotates the first target from request to request.
	RoundRobin Strategy = "round_robin"
	// LeastLatency picks the faster of two random targets by EWMA time to
	// first token and in-flight requests (power of two choices).
	LeastLatency Strategy = "least_latency"
	// LowestCost tries the cheapest target first.
	LowestCost Strategy = "lowest_cost"
)

// Strategies lists the valid strategies.
var Strategies = []Strategy{Priority, Weighted, RoundRobin, LeastLatency, LowestCost}

// Member is one target of a pool as routing sees it.
type Member struct {
	Health *Health
	Weight int
	// Cost orders LowestCost: any monotone measure of price.
	Cost float64
	// Region is where the target serves from ("" = unknown, which a
	// region-restricted request never uses).
	Region string
	// Limit caps the requests sent to the target; nil means none.
	Limit *rate.Limiter
}

// Pool routes among an alias's targets.
type Pool struct {
	Members  []Member
	Strategy Strategy
	// Sticky keeps a session or user on the same healthy target (for
	// prompt-cache hits), by rendezvous hashing of the request's sticky key.
	Sticky bool
	// MaxEjectedPercent caps the share of the pool ejected at once; at
	// least one target may always be ejected. The default is 50.
	MaxEjectedPercent int

	rr atomic.Uint64
}

// Request is what routing knows of a request.
type Request struct {
	// Allowed, when not empty, restricts targets to these regions.
	Allowed []string
	// Prefer orders targets in these regions first (x-causeway-region).
	Prefer []string
	// StickyKey is the session or user id for sticky pools.
	StickyKey string
}

// Plan returns the indices of the members to try, in order. Ejected
// targets are left out, unless every allowed target is ejected, in which
// case they are all tried (a pool never refuses on health alone). Targets
// outside Allowed regions are never included.
func (p *Pool) Plan(r Request, now time.Time) []int {
	idx := make([]int, 0, len(p.Members))
	var ejected []int
	for i, m := range p.Members {
		if len(r.Allowed) > 0 && !slices.Contains(r.Allowed, m.Region) {
			continue
		}
		if m.Limit != nil && m.Limit.TokensAt(now) < 1 {
			continue // at its rate cap: not a candidate for this request
		}
		if m.Health.State(now) == Ejected || m.Health.Cooling(now) {
			ejected = append(ejected, i)
			continue
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return ejected
	}
	p.order(idx, r)
	if len(r.Prefer) > 0 {
		rank := func(i int) int {
			if k := slices.Index(r.Prefer, p.Members[i].Region); k >= 0 {
				return k
			}
			return len(r.Prefer)
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rank(a), rank(b)) })
	}
	return idx
}

func (p *Pool) order(idx []int, r Request) {
	if len(idx) < 2 {
		return
	}
	switch p.Strategy {
	case Weighted:
		weightedShuffle(idx, p.Members)
	case RoundRobin:
		n := int(p.rr.Add(1)-1) % len(idx)
		rotated := append(slices.Clone(idx[n:]), idx[:n]...)
		copy(idx, rotated)
	case LeastLatency:
		// Power of two choices for the first; the rest by score.
		score := func(i int) float64 {
			h := p.Members[i].Health
			return float64(h.Latency()) * float64(1+h.Inflight())
		}
		a, b := rand.IntN(len(idx)), rand.IntN(len(idx)-1)
		if b >= a {
			b++
		}
		first := idx[a]
		if score(idx[b]) < score(idx[a]) {
			first = idx[b]
		}
		rest := slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return i == first })
		slices.SortStableFunc(rest, func(x, y int) int { return cmp.Compare(score(x), score(y)) })
		idx[0] = first
		copy(idx[1:], rest)
	case LowestCost:
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(p.Members[a].Cost, p.Members[b].Cost) })
	}
	if p.Sticky && r.StickyKey != "" {
		// Rendezvous hashing: the member with the highest hash of
		// (key, member) goes first, so a key keeps its target while the
		// target stays healthy and moves only when it leaves.
		best, bestScore := -1, uint64(0)
		for k, i := range idx {
			h := fnv.New64a()
			h.Write([]byte(r.StickyKey))
			h.Write([]byte{byte(i), byte(i >> 8)})
			if s := h.Sum64(); best < 0 || s > bestScore {
				best, bestScore = k, s
			}
		}
		if best > 0 {
			first := idx[best]
			copy(idx[1:best+1], idx[:best])
			idx[0] = first
		}
	}
}

func weightedShuffle(idx []int, ms []Member) {
	// Efraimidis–Spirakis: key = u^(1/w); larger keys first.
	keys := make(map[int]float64, len(idx))
	for _, i := range idx {
		w := float64(ms[i].Weight)
		if w <= 0 {
			w = 1
		}
		keys[i] = -math.Pow(rand.Float64(), 1/w)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
}

// Acquire asks to use member i for an attempt; false means a probing
// target already has its probe in flight.
func (p *Pool) Acquire(i int, now time.Time) bool {
	if l := p.Members[i].Limit; l != nil && !l.AllowN(now, 1) {
		return false
	}
	return p.Members[i].Health.acquire(now)
}

// Capped reports whether every member the request may use is at its rate
// cap, so that the request is refused with 429 rather than 503.
func (p *Pool) Capped(r Request, now time.Time) bool {
	any := false
	for _, m := range p.Members {
		if len(r.Allowed) > 0 && !slices.Contains(r.Allowed, m.Region) {
			continue
		}
		if m.Limit == nil || m.Limit.TokensAt(now) >= 1 {
			return false
		}
		any = true
	}
	return any
}

// Failure records a failed attempt at member i, ejecting it if it has
// failed often enough and the pool's ejection cap allows.
func (p *Pool) Failure(i int, now time.Time) bool {
	return p.Members[i].Health.Failure(now, func() bool { return p.mayEject(now) })
}

func (p *Pool) mayEject(now time.Time) bool {
	pct := p.MaxEjectedPercent
	if pct <= 0 {
		pct = 50
	}
	var ejected int
	for _, m := range p.Members {
		if m.Health.State(now) != Healthy {
			ejected++
		}
	}
	limit := max(1, len(p.Members)*pct/100)
	return ejected < limit
}
