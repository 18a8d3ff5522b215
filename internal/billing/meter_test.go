package billing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// memSink is an in-memory ledger, idempotent on (RequestID, Attempt) like
// the store. block, when set, holds each InsertUsage until it is closed,
// after telling entered.
type memSink struct {
	mu      sync.Mutex
	recs    map[string]Record
	writes  int
	block   chan struct{}
	entered chan struct{}
	fail    error
}

func newMemSink() *memSink { return &memSink{recs: map[string]Record{}} }

func (s *memSink) InsertUsage(ctx context.Context, recs []Record) error {
	if s.block != nil {
		s.entered <- struct{}{}
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.writes++
	for _, r := range recs {
		s.recs[fmt.Sprintf("%s/%d", r.RequestID, r.Attempt)] = r
	}
	return nil
}

func (s *memSink) SpendByKey(ctx context.Context, tenant, keyID string) (int64, error) { return 0, nil }

func (s *memSink) has(rid string, attempt int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.recs[fmt.Sprintf("%s/%d", rid, attempt)]
	return ok
}

// slow never flushes on its own during a test.
var slow = MeterOptions{FlushInterval: time.Hour, BatchSize: 1 << 20}

// TestFlushConcurrent: goroutines record and flush at once; each sees its
// own records written when its Flush returns.
func TestFlushConcurrent(t *testing.T) {
	sink := newMemSink()
	m := NewMeter(sink, slow)
	defer m.Close(context.Background())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				rid := fmt.Sprintf("req-%d-%d", g, i)
				m.Record(Record{RequestID: rid, Attempt: 1, Tenant: "t", KeyID: "k", CostNanoUSD: 1})
				m.Flush(context.Background())
				if !sink.has(rid, 1) {
					t.Errorf("%s not written when Flush returned", rid)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(sink.recs) != 400 {
		t.Errorf("sink holds %d records, want 400", len(sink.recs))
	}
}

// TestFlushWaitingGivesUp: a Flush waiting behind a stuck write returns
// when its context ends, and the record is still written later.
func TestFlushWaitingGivesUp(t *testing.T) {
	sink := newMemSink()
	release := make(chan struct{})
	sink.block, sink.entered = release, make(chan struct{}, 16)
	m := NewMeter(sink, slow)
	m.Record(Record{RequestID: "a", Attempt: 1, Tenant: "t"})
	first := make(chan struct{})
	go func() { m.Flush(context.Background()); close(first) }()
	<-sink.entered // the first flush holds the writer

	m.Record(Record{RequestID: "b", Attempt: 1, Tenant: "t"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.Flush(ctx) // must return: its context has ended
	if sink.has("b", 1) {
		t.Error("b written by a flush that gave up")
	}

	close(release)
	<-first
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !sink.has("a", 1) || !sink.has("b", 1) {
		t.Errorf("after Close: a %v, b %v; want both written", sink.has("a", 1), sink.has("b", 1))
	}
}

// TestCloseRetriesFailedWrites: a failed write keeps the records; Close
// writes them once the sink recovers.
func TestCloseRetriesFailedWrites(t *testing.T) {
	sink := newMemSink()
	sink.fail = errors.New("down")
	var failures int
	opts := slow
	opts.OnWriteError = func(error) {
		failures++
		if failures == 2 {
			sink.mu.Lock()
			sink.fail = nil // the store recovers
			sink.mu.Unlock()
		}
	}
	m := NewMeter(sink, opts)
	m.Record(Record{RequestID: "a", Attempt: 1, Tenant: "t"})
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !sink.has("a", 1) || failures < 2 {
		t.Errorf("written %v after %d failures; want written after 2", sink.has("a", 1), failures)
	}
}
