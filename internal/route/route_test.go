package route

import (
	"slices"
	"testing"
	"time"
)

func pool(n int, s Strategy) *Pool {
	p := &Pool{Strategy: s}
	for i := range n {
		p.Members = append(p.Members, Member{Health: NewHealth(HealthOptions{ConsecutiveFailures: 2, BaseEjection: time.Second}), Weight: 1, Cost: float64(n - i), Region: []string{"us", "eu", "ap"}[i%3]})
	}
	return p
}

func TestEjectionAndProbe(t *testing.T) {
	p := pool(2, Priority)
	now := time.Unix(1000, 0)
	if p.Failure(0, now) {
		t.Fatal("ejected after one failure, want two")
	}
	if !p.Failure(0, now) {
		t.Fatal("not ejected after two failures")
	}
	if got := p.Plan(Request{}, now); !slices.Equal(got, []int{1}) {
		t.Fatalf("plan with 0 ejected = %v, want [1]", got)
	}
	// The cap: with 0 ejected, 1 of 2 (50%) may not be ejected too.
	p.Failure(1, now)
	if p.Failure(1, now) || p.Members[1].Health.State(now) != Healthy {
		t.Fatal("second target ejected beyond max_ejected_percent")
	}
	// After the ejection, one probe at a time.
	later := now.Add(1500 * time.Millisecond)
	if st := p.Members[0].Health.State(later); st != Probing {
		t.Fatalf("state = %v, want probing", st)
	}
	if !p.Acquire(0, later) || p.Acquire(0, later) {
		t.Fatal("probing target must admit exactly one request")
	}
	// A failed probe ejects again for twice as long.
	p.Failure(0, later)
	if st := p.Members[0].Health.State(later.Add(1500 * time.Millisecond)); st != Ejected {
		t.Fatalf("after a failed probe, state = %v, want ejected (doubled)", st)
	}
	// A successful probe heals.
	end := later.Add(3 * time.Second)
	if !p.Acquire(0, end) {
		t.Fatal("probe not admitted")
	}
	p.Members[0].Health.Success(time.Millisecond)
	if st := p.Members[0].Health.State(end); st != Healthy {
		t.Fatalf("after a good probe, state = %v", st)
	}
}

func TestAllEjectedStillPlans(t *testing.T) {
	p := pool(1, Priority)
	now := time.Now()
	p.Failure(0, now)
	p.Failure(0, now)
	if got := p.Plan(Request{}, now); !slices.Equal(got, []int{0}) {
		t.Fatalf("plan = %v, want the ejected target rather than nothing", got)
	}
}

func TestRegions(t *testing.T) {
	p := pool(3, Priority) // regions us, eu, ap
	if got := p.Plan(Request{Allowed: []string{"eu"}}, time.Now()); !slices.Equal(got, []int{1}) {
		t.Fatalf("allowed eu: %v, want [1]", got)
	}
	if got := p.Plan(Request{Prefer: []string{"ap"}}, time.Now()); got[0] != 2 || len(got) != 3 {
		t.Fatalf("prefer ap: %v, want 2 first of 3", got)
	}
	if got := p.Plan(Request{Allowed: []string{"mars"}}, time.Now()); len(got) != 0 {
		t.Fatalf("allowed nowhere: %v, want none", got)
	}
}

func TestStrategies(t *testing.T) {
	now := time.Now()
	if got := pool(3, LowestCost).Plan(Request{}, now); !slices.Equal(got, []int{2, 1, 0}) {
		t.Errorf("lowest cost = %v, want [2 1 0]", got)
	}
	rr := pool(3, RoundRobin)
	var firsts []int
	for range 6 {
		firsts = append(firsts, rr.Plan(Request{}, now)[0])
	}
	if !slices.Equal(firsts, []int{0, 1, 2, 0, 1, 2}) {
		t.Errorf("round robin firsts = %v", firsts)
	}
	w := pool(2, Weighted)
	w.Members[0].Weight, w.Members[1].Weight = 9, 1
	count := 0
	for range 2000 {
		if w.Plan(Request{}, now)[0] == 0 {
			count++
		}
	}
	if count < 1600 || count > 1990 {
		t.Errorf("weight 9:1 chose the heavy target %d/2000 times, want about 1800", count)
	}
	ll := pool(2, LeastLatency)
	ll.Members[0].Health.Success(100 * time.Millisecond)
	ll.Members[1].Health.Success(time.Millisecond)
	if got := ll.Plan(Request{}, now); got[0] != 1 {
		t.Errorf("least latency = %v, want the 1ms target first", got)
	}
	sticky := pool(3, RoundRobin)
	sticky.Sticky = true
	a := sticky.Plan(Request{StickyKey: "session-1"}, now)[0]
	for range 10 {
		if b := sticky.Plan(Request{StickyKey: "session-1"}, now)[0]; b != a {
			t.Fatalf("sticky session moved from %d to %d", a, b)
		}
	}
}

func TestRetryBudget(t *testing.T) {
	h := NewHealth(HealthOptions{})
	n := 0
	for h.AllowRetry() {
		n++
	}
	if n != 3 {
		t.Fatalf("reserve allowed %d retries, want 3", n)
	}
	for range 10 {
		h.FirstAttempt()
	}
	n = 0
	for h.AllowRetry() {
		n++
	}
	if n != 2 {
		t.Fatalf("10 requests earned %d retries, want 2 (20%%)", n)
	}
}

func TestRateLimitedTargetCoolsDown(t *testing.T) {
	p := pool(2, Priority)
	now := time.Unix(1000, 0)
	p.Members[0].Health.RateLimited(now, 2*time.Second)
	if got := p.Plan(Request{}, now.Add(time.Second)); !slices.Equal(got, []int{1}) {
		t.Fatalf("plan while the primary cools = %v, want [1]", got)
	}
	if got := p.Plan(Request{}, now.Add(3*time.Second)); got[0] != 0 {
		t.Fatalf("plan after Retry-After = %v, want the primary first again", got)
	}
}
