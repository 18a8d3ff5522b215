package billing

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Sink persists usage records. InsertUsage must be idempotent on
// (RequestID, Attempt): the meter retries a failed batch whole.
type Sink interface {
	InsertUsage(ctx context.Context, recs []Record) error
	SpendByKey(ctx context.Context, tenant, keyID string) (int64, error)
}

// MeterOptions tune the batching writer.
type MeterOptions struct {
	// FlushInterval is the longest a record waits before it is written.
	FlushInterval time.Duration
	// BatchSize triggers an early flush when this many records wait.
	BatchSize int
	Logger    *slog.Logger
	// OnPending, if set, is told the number of buffered records.
	OnPending func(n int)
	// OnWriteError, if set, is called for every failed batch write.
	OnWriteError func(error)
}

// Meter buffers usage records and writes them in batches. Records are
// never dropped: a failed write is retried with backoff, and Close writes
// everything still buffered before it returns.
//
// The meter also keeps each key's spend in memory (persisted spend read
// once, plus everything recorded since) so that budget checks cost no
// database round trip.
type Meter struct {
	sink Sink
	opts MeterOptions
	log  *slog.Logger

	// writer serialises flushes (a one-slot semaphore, so a waiting
	// Flush can give up when its context ends), so that when Flush
	// returns every record recorded before it was called is in the store.
	writer  chan struct{}
	mu      sync.Mutex
	buf     []Record
	kick    chan struct{}
	closing chan struct{}
	done    chan struct{}

	spendMu sync.Mutex
	spend   map[string]*keySpend
}

type keySpend struct {
	once sync.Once
	err  error
	nano atomic.Int64
}

// NewMeter starts a meter writing to sink.
func NewMeter(sink Sink, opts MeterOptions) *Meter {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Meter{
		sink: sink, opts: opts, log: log,
		kick:    make(chan struct{}, 1),
		writer:  make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		spend:   make(map[string]*keySpend),
	}
	go m.run()
	return m
}

// Record queues r for writing and adds its cost to the key's spend.
func (m *Meter) Record(r Record) {
	if r.KeyID != "" && r.CostNanoUSD != 0 {
		m.keySpend(r.Tenant, r.KeyID).nano.Add(r.CostNanoUSD)
	}
	m.mu.Lock()
	m.buf = append(m.buf, r)
	n := len(m.buf)
	m.mu.Unlock()
	if m.opts.OnPending != nil {
		m.opts.OnPending(n)
	}
	if n >= m.opts.BatchSize {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

func (m *Meter) keySpend(tenant, keyID string) *keySpend {
	m.spendMu.Lock()
	ks, ok := m.spend[keyID]
	if !ok {
		ks = &keySpend{}
		m.spend[keyID] = ks
	}
	m.spendMu.Unlock()
	_ = tenant
	return ks
}

// Spend returns the key's total spend in nano-USD: what the store holds
// from before this process first asked, plus what it has recorded since.
func (m *Meter) Spend(ctx context.Context, tenant, keyID string) (int64, error) {
	ks := m.keySpend(tenant, keyID)
	ks.once.Do(func() {
		// Records buffered but not yet written are already in ks.nano,
		// and the store does not hold them yet; records written before
		// this load are in the store and not in ks.nano, except those of
		// this process, which Record counted. Flush first so the store's
		// sum and ks.nano never overlap: after the flush, everything this
		// process recorded is in both, so subtract it.
		m.Flush(ctx)
		local := ks.nano.Load()
		persisted, err := m.sink.SpendByKey(ctx, tenant, keyID)
		if err != nil {
			ks.err = err
			return
		}
		ks.nano.Add(persisted - local)
	})
	if ks.err != nil {
		err := ks.err
		// Let the next call try again.
		m.spendMu.Lock()
		if m.spend[keyID] == ks {
			delete(m.spend, keyID)
		}
		m.spendMu.Unlock()
		return 0, err
	}
	return ks.nano.Load(), nil
}

// Flush writes everything buffered now, retrying until ctx ends. When it
// returns with ctx still live, every record recorded before the call is
// in the store. It is safe to call from any goroutine: flushes run one at
// a time, and one waiting for another gives up when ctx ends.
func (m *Meter) Flush(ctx context.Context) {
	select {
	case m.writer <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-m.writer }()
	// One pass: what is buffered now (and what an earlier flush was
	// writing, which holding the writer waited for). Records that arrive
	// meanwhile are the next flush's, so a steady stream of them cannot
	// keep this one from returning.
	m.mu.Lock()
	batch := m.buf
	m.buf = nil
	m.mu.Unlock()
	if len(batch) > 0 && !m.write(ctx, batch) {
		m.requeue(batch)
	}
}

func (m *Meter) requeue(batch []Record) {
	m.mu.Lock()
	m.buf = append(batch, m.buf...)
	m.mu.Unlock()
}

// write writes one batch, in chunks of BatchSize, retrying with backoff
// until it succeeds or ctx ends. It reports whether everything was written.
func (m *Meter) write(ctx context.Context, batch []Record) bool {
	for len(batch) > 0 {
		n := min(len(batch), m.opts.BatchSize*4)
		backoff := 50 * time.Millisecond
		for {
			err := m.sink.InsertUsage(ctx, batch[:n])
			if err == nil {
				break
			}
			if m.opts.OnWriteError != nil {
				m.opts.OnWriteError(err)
			}
			m.log.Error("usage write failed; retrying", slog.Int("records", n), slog.Any("error", err))
			select {
			case <-ctx.Done():
				return false
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
		batch = batch[n:]
		m.mu.Lock()
		pending := len(m.buf)
		m.mu.Unlock()
		if m.opts.OnPending != nil {
			m.opts.OnPending(pending)
		}
	}
	return true
}

func (m *Meter) run() {
	defer close(m.done)
	t := time.NewTicker(m.opts.FlushInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-m.closing
		// Close owns the final flush; stop in-loop retries so it can.
		cancel()
	}()
	for {
		select {
		case <-m.closing:
			return
		case <-t.C:
		case <-m.kick:
		}
		m.Flush(ctx)
	}
}

// Close stops the background writer and writes everything still buffered,
// retrying until ctx ends. It returns ctx's error if records remain.
func (m *Meter) Close(ctx context.Context) error {
	select {
	case <-m.closing:
	default:
		close(m.closing)
	}
	<-m.done
	m.Flush(ctx)
	m.mu.Lock()
	left := len(m.buf)
	m.mu.Unlock()
	if left > 0 {
		m.log.Error("usage records not written at shutdown", slog.Int("records", left))
		return ctx.Err()
	}
	return nil
}
