package sim

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
)

// Fault makes the simulator misbehave for requests to one upstream model.
// It is also the body of POST /sim/faults and an element of GET /sim/faults.
//
// A request takes at most one fault: the first registered one that matches
// its model and fires (see Probability). Within that fault, the stall comes
// first, then either the status, or a normal answer damaged by
// CutAfterChunks or Malformed.
type Fault struct {
	// ID is assigned by the simulator.
	ID string `json:"id"`
	// Model is the upstream model name the fault applies to; "*" or empty
	// matches every model.
	Model string `json:"model"`
	// Status, when not 0, answers with this HTTP status (400–599) and the
	// protocol's error body instead of a completion.
	Status int `json:"status"`
	// Probability is the chance (0–1] that the fault fires for a matching
	// request; 0 means 1. The draw is from a deterministic generator.
	Probability float64 `json:"probability"`
	// RetryAfterS, when positive, sets Retry-After (seconds) on a Status
	// answer.
	RetryAfterS int `json:"retry_after_s"`
	// CutAfterChunks, when positive, starts the stream normally and drops the
	// connection after that many events, without the end marker. A whole
	// (non-streamed) answer is cut after half its body.
	CutAfterChunks int `json:"cut_after_chunks"`
	// StallMS waits that long before the first byte, or until the client
	// gives up.
	StallMS int `json:"stall_ms"`
	// Count is how many requests the fault applies to before it removes
	// itself; 0 means until removed. In GET /sim/faults it is what remains.
	Count int `json:"count"`
	// Malformed sends a garbage, non-JSON event in place of the event after
	// CutAfterChunks events (or after the first, when CutAfterChunks is 0)
	// and ends the stream there; a whole answer becomes a garbage body.
	Malformed bool `json:"malformed"`
	// Message, when set, replaces the default error message of a Status
	// answer.
	Message string `json:"message,omitempty"`
	// Applied counts the requests the fault has fired on (read only).
	Applied int `json:"applied"`
}

func (f *Fault) validate() error {
	switch {
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return errors.New("status must be 0 or 400-599")
	case f.Probability < 0 || f.Probability > 1:
		return errors.New("probability must be between 0 and 1")
	case f.RetryAfterS < 0, f.CutAfterChunks < 0, f.StallMS < 0, f.Count < 0:
		return errors.New("retry_after_s, cut_after_chunks, stall_ms and count must not be negative")
	}
	return nil
}

// faultSet is the registered faults, in registration order.
type faultSet struct {
	mu     sync.Mutex
	faults []*Fault
	next   int
	rng    rng
	// active mirrors len(faults), so that the common no-fault case costs one
	// atomic load and no lock.
	active atomic.Int32
}

// pick returns a copy of the fault that fires for model, or nil.
func (fs *faultSet) pick(model string) *Fault {
	if fs.active.Load() == 0 {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, f := range fs.faults {
		if f.Model != "" && f.Model != "*" && f.Model != model {
			continue
		}
		if f.Probability > 0 && f.Probability < 1 && fs.rng.float() >= f.Probability {
			continue
		}
		f.Applied++
		fired := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				fs.faults = append(fs.faults[:i], fs.faults[i+1:]...)
				fs.active.Store(int32(len(fs.faults)))
			}
		}
		return &fired
	}
	return nil
}

// AddFault registers f and returns its id.
func (s *Sim) AddFault(f Fault) string {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.next++
	f.ID = "fault_" + strconv.Itoa(fs.next)
	f.Applied = 0
	fs.faults = append(fs.faults, &f)
	fs.active.Store(int32(len(fs.faults)))
	return f.ID
}

// RemoveFault removes the fault with id and reports whether it existed.
func (s *Sim) RemoveFault(id string) bool {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, f := range fs.faults {
		if f.ID == id {
			fs.faults = append(fs.faults[:i], fs.faults[i+1:]...)
			fs.active.Store(int32(len(fs.faults)))
			return true
		}
	}
	return false
}

// ClearFaults removes every fault.
func (s *Sim) ClearFaults() {
	fs := &s.faults
	fs.mu.Lock()
	fs.faults = nil
	fs.active.Store(0)
	fs.mu.Unlock()
}

// Faults returns the registered faults, Count being what remains of each.
func (s *Sim) Faults() []Fault {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]Fault, len(fs.faults))
	for i, f := range fs.faults {
		out[i] = *f
	}
	return out
}

// call is one model request's passage through the simulator: it is
// counted on arrival, may carry a fault, and is completed (or not).
type call struct {
	c     *counters
	fault *Fault
}

// begin counts a request for model and draws its fault.
func (s *Sim) begin(model string) call {
	c := s.stats.get(model)
	c.requests.Add(1)
	f := s.faults.pick(model)
	if f != nil {
		s.log.Debug("sim fault fired", "fault", f.ID, "model", model)
	}
	return call{c: c, fault: f}
}

// complete records a request answered in full.
func (c call) complete(input, output int) {
	c.c.completed.Add(1)
	c.c.input.Add(int64(input))
	c.c.output.Add(int64(output))
}

// stall runs the fault's stall; it reports false if the client gave up.
func (c call) stall(ctx context.Context) bool {
	if c.fault == nil || c.fault.StallMS == 0 {
		return true
	}
	return sleep(ctx, msDuration(c.fault.StallMS))
}

// cutAfter is the number of events after which to drop the connection
// (0 = never).
func (c call) cutAfter() int {
	if c.fault == nil || c.fault.Malformed {
		return 0
	}
	return c.fault.CutAfterChunks
}

// garbageAt is the number of good events sent before the garbage one
// (-1 = none).
func (c call) garbageAt() int {
	switch {
	case c.fault == nil || !c.fault.Malformed:
		return -1
	case c.fault.CutAfterChunks > 0:
		return c.fault.CutAfterChunks
	}
	return 1
}
