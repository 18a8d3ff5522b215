package sim

import (
	"sync"
	"sync/atomic"
)

// Stats is what the simulator received and finished, per upstream model
// name: the body of GET /sim/stats.
type Stats struct {
	// Requests counts every valid model request received, faulted or not.
	Requests map[string]int64 `json:"requests"`
	// Completed counts the requests answered in full: a stream that reached
	// its end marker ([DONE] for OpenAI), or a whole body. It is counted just
	// before the last bytes are written, so a client that has seen the end
	// of its answer finds it here.
	Completed map[string]int64 `json:"completed"`
	// OutputTokens sums the output tokens reported by completed requests.
	OutputTokens map[string]int64 `json:"output_tokens"`
	// InputTokens sums the input tokens reported by completed requests.
	InputTokens map[string]int64 `json:"input_tokens"`
}

// counters are one model's statistics; a request keeps a pointer to them,
// so that a reset during the request leaves the new table clean.
type counters struct {
	requests  atomic.Int64
	completed atomic.Int64
	output    atomic.Int64
	input     atomic.Int64
}

// statsTable maps model names to counters. A read lock and a map lookup
// per request keep it cheap under load; only the first request for a model
// takes the write lock.
type statsTable struct {
	mu sync.RWMutex
	m  map[string]*counters
}

func (t *statsTable) get(model string) *counters {
	t.mu.RLock()
	c := t.m[model]
	t.mu.RUnlock()
	if c != nil {
		return c
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c = t.m[model]; c == nil {
		c = new(counters)
		t.m[model] = c
	}
	return c
}

func (t *statsTable) reset() {
	t.mu.Lock()
	t.m = make(map[string]*counters)
	t.mu.Unlock()
}

func (t *statsTable) snapshot() Stats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := Stats{
		Requests:     make(map[string]int64, len(t.m)),
		Completed:    make(map[string]int64, len(t.m)),
		OutputTokens: make(map[string]int64, len(t.m)),
		InputTokens:  make(map[string]int64, len(t.m)),
	}
	for model, c := range t.m {
		s.Requests[model] = c.requests.Load()
		s.Completed[model] = c.completed.Load()
		s.OutputTokens[model] = c.output.Load()
		s.InputTokens[model] = c.input.Load()
	}
	return s
}

// Stats returns the statistics, as GET /sim/stats does.
func (s *Sim) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the statistics, as DELETE /sim/stats does.
func (s *Sim) ResetStats() { s.stats.reset() }
