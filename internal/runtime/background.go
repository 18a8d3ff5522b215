package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
	"github.com/causeway-ai/causeway/internal/store"
)

// Background responses ("background": true). The response is written to
// the store as queued and its id returned at once; it then runs in this
// process with a context of its own, so a client that disconnects does
// not stop it. Its stream events go to an in-memory log that streamed
// readers in this process follow, and to the store every tick so that
// readers at other replicas can follow too. Every tick the run renews its
// lease on the row; a run whose row has been ended elsewhere (a cancel at
// another replica) stops. A queued or running row whose lease has lapsed
// belongs to a process that died: readers see it as failed.

var (
	// errCancelled is the cause of a background response's context when
	// it is cancelled through the API.
	errCancelled = errors.New("response cancelled")
	// errShutdown is the cause when the gateway stops before the run ends.
	errShutdown = errors.New("the gateway shut down before this response finished")
)

const (
	// saveTimeout bounds writing a finished response.
	saveTimeout = 30 * time.Second
	// leaseFor is how long a lease lasts; renewed every tick.
	leaseFor = 30 * time.Second
	// defaultTick is how often a run writes its new events and renews
	// its lease, and how often a reader at another replica polls.
	defaultTick = time.Second
	// persistTimeout bounds one tick's writes, so a hung store cannot
	// hold a run (or its cancel) forever.
	persistTimeout = 10 * time.Second
)

// job is a background response running in this process.
type job struct {
	id     string
	o      store.Owner
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	events  []json.RawMessage
	types   []string
	stored  int           // events written to the store
	changed chan struct{} // closed (and replaced) when events are added
	ended   bool
	done    chan struct{} // closed when the run has ended and is saved
}

func (j *job) append(typ string, data []byte) error {
	j.mu.Lock()
	j.events = append(j.events, data)
	j.types = append(j.types, typ)
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
	return nil
}

// since returns the events from index next, whether the run has ended,
// and a channel closed when more come.
func (j *job) since(next int) ([]json.RawMessage, []string, bool, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if next > len(j.events) {
		next = len(j.events)
	}
	return j.events[next:], j.types[next:], j.ended, j.changed
}

// jobs are the background responses running in this process.
type jobs struct {
	mu sync.Mutex
	m  map[string]*job
	wg sync.WaitGroup
	// closed: the process is shutting down; no new run starts.
	closed bool
}

// add registers a run about to start; false once shutting down.
func (js *jobs) add(j *job) bool {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.closed {
		return false
	}
	if js.m == nil {
		js.m = map[string]*job{}
	}
	js.m[j.id] = j
	js.wg.Add(1)
	return true
}

// close stops new runs from starting.
func (js *jobs) close() {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.closed = true
}

func (js *jobs) get(id string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.m[id]
}

func (js *jobs) remove(id string) {
	js.mu.Lock()
	defer js.mu.Unlock()
	delete(js.m, id)
}

func (rt *Runtime) tick() time.Duration {
	if rt.Tick > 0 {
		return rt.Tick
	}
	return defaultTick
}

// createBackground queues the response, starts it, and returns it as
// queued; a streamed request then follows its events.
func (rt *Runtime) createBackground(ctx context.Context, pr *prepared, emit Emit) (*wire.Response, error) {
	j := &job{o: pr.o, changed: make(chan struct{}), done: make(chan struct{})}
	b := pr.builder(j.append)
	b.record = true
	b.resp.Background = true
	b.resp.Status = "queued"
	j.id = b.resp.ID
	row, body, err := startRow(pr, b, leaseFor)
	if err != nil {
		return nil, err
	}
	if err := rt.Store.CreateBackground(ctx, pr.o, row); err != nil {
		return nil, mapStoreErr(err, "conversation", "Conversation with id '"+pr.cp.ConversationID+"' not found.")
	}
	queued := b.snapshot()
	if err := b.sendCreated(); err != nil {
		return nil, err
	}
	if err := b.send(&wire.Event{Type: "response.queued", Response: b.snapshot()}); err != nil {
		return nil, err
	}
	// The run outlives the HTTP request: its own context, with the
	// request's values (request id, principal) but not its cancellation.
	bctx, cancel := context.WithCancelCause(gateway.WithAbortOnCancel(context.WithoutCancel(ctx)))
	j.cancel = cancel
	if !rt.bg.add(j) {
		cancel(errShutdown)
		const msg = "The gateway is shutting down; this background response was not started."
		body := patchStatus(body, "failed", &wire.Error{Code: "server_error", Message: msg})
		_, _ = rt.Store.EndBackground(context.WithoutCancel(ctx), pr.o, j.id, "failed", msg, body)
		return nil, &llm.Error{Kind: llm.KindUnavailable, Message: msg}
	}
	if rt.Observe != nil {
		rt.Observe.Background(1)
	}
	go rt.runBackground(bctx, pr, b, j)
	if emit == nil {
		return queued, nil
	}
	return queued, follow(ctx, j, 0, emit)
}

// startRow is the row a response gets when it is queued (background) or
// starts (a stored foreground response, Pending): its state now, with a
// lease of lease.
func startRow(pr *prepared, b *builder, lease time.Duration) (*store.Response, []byte, error) {
	body, err := json.Marshal(b.resp)
	if err != nil {
		return nil, nil, err
	}
	row := &store.Response{ID: b.resp.ID, Model: b.resp.Model, Status: b.resp.Status, ConversationID: pr.cp.ConversationID,
		Request: pr.cp.Body, Store: true, Body: body, Background: b.resp.Background, LeaseUntil: time.Now().Add(lease),
		CreatedAt: b.created.UTC().Truncate(time.Microsecond)}
	if b.resp.PreviousResponseID != nil {
		row.PreviousResponseID = *b.resp.PreviousResponseID
	}
	if b.resp.Instructions != nil {
		row.Instructions = *b.resp.Instructions
	}
	row.Metadata, _ = json.Marshal(b.resp.Metadata)
	return row, body, nil
}

// pendingLease is how long the row of a stored foreground response in
// progress reads as running (its run renews nothing): past it, a reader
// takes its process for dead and the row for failed — which the run, if
// it was only very long, overwrites when it ends.
const pendingLease = 15 * time.Minute

// startPending writes, in the background, the row of a stored foreground
// response that has started, so that GET finds it in_progress while it
// runs; save waits for it and completes it.
func (rt *Runtime) startPending(ctx context.Context, pr *prepared, b *builder, st *starting) {
	row, _, err := startRow(pr, b, pendingLease)
	ch := make(chan error, 1)
	b.pending = ch
	if err != nil {
		ch <- err
		st.written()
		return
	}
	ctx = context.WithoutCancel(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, persistTimeout)
		defer cancel()
		ch <- rt.Store.CreateBackground(ctx, pr.o, row)
		st.written()
	}()
}

// starting is a stored foreground response running in this process: a
// reader waits on ready for its row (closed once written, or once the
// run ends without one).
type starting struct {
	ready chan struct{}
	once  sync.Once
}

func newStarting() *starting { return &starting{ready: make(chan struct{})} }

func (st *starting) written() { st.once.Do(func() { close(st.ready) }) }

// runBackground runs the response, writing its events and lease every
// tick, and saves it.
func (rt *Runtime) runBackground(ctx context.Context, pr *prepared, b *builder, j *job) {
	defer rt.bg.wg.Done()
	defer j.cancel(nil)
	stop := make(chan struct{})
	ticked := make(chan struct{})
	inProgress := make(chan []byte, 1)
	b.onStart = func() {
		body, _ := json.Marshal(b.snapshot())
		inProgress <- body
	}
	go func() {
		defer close(ticked)
		t := time.NewTicker(rt.tick())
		defer t.Stop()
		for {
			var body []byte
			select {
			case <-stop:
				return
			case body = <-inProgress:
			case <-t.C:
			}
			rt.persist(ctx, b, j, body)
		}
	}()
	_, err := rt.run(ctx, pr, b)
	close(stop)
	<-ticked
	if err != nil {
		// Ended before its first model call answered, or the store
		// failed: end the row as failed, with a final event.
		if errors.Is(context.Cause(ctx), errCancelled) {
			b.cancelled()
		} else {
			b.fail(err)
		}
		body, _ := json.Marshal(b.resp)
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		msg := ""
		if b.resp.Error != nil {
			msg = b.resp.Error.Message
		}
		_ = b.finishStream()
		if ended, _ := rt.Store.EndBackground(ectx, j.o, j.id, b.resp.Status, msg, body); ended {
			events, _, _, _ := j.since(0)
			_ = rt.Store.AppendResponseEvents(ectx, j.o, j.id, 0, events)
		}
		cancel()
	}
	// Gone from the running set (readers now find it in the store, saved)
	// before its followers are told it ended.
	rt.bg.remove(j.id)
	if rt.Observe != nil {
		rt.Observe.Background(-1)
	}
	j.mu.Lock()
	j.ended = true
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
	close(j.done)
}

// persist writes the run's new events and renews its lease (setting the
// row in progress when body is given); a row ended elsewhere cancels
// the run.
func (rt *Runtime) persist(ctx context.Context, b *builder, j *job, body []byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistTimeout)
	defer cancel()
	status := ""
	if body != nil {
		status = "in_progress"
	}
	// The lease first: a row ended or deleted meanwhile gets no events.
	if err := rt.Store.UpdateBackground(ctx, j.o, j.id, status, body, time.Now().Add(leaseFor)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Cancelled (or deleted) through another replica.
			j.cancel(errCancelled)
		}
		return
	}
	j.mu.Lock()
	from := j.stored
	evs := j.events[from:len(j.events):len(j.events)]
	j.mu.Unlock()
	if err := rt.Store.AppendResponseEvents(ctx, j.o, j.id, int64(from), evs); err == nil {
		j.mu.Lock()
		j.stored = from + len(evs)
		j.mu.Unlock()
	}
}

// follow sends a running job's events after index after-1 (from the
// first when after is 0) to emit until the run ends or ctx is done.
func follow(ctx context.Context, j *job, next int, emit Emit) error {
	for {
		evs, types, ended, changed := j.since(next)
		for i, ev := range evs {
			if err := emit(types[i], ev); err != nil {
				return err
			}
		}
		next += len(evs)
		if ended {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// terminal reports whether a status is an end state.
func terminal(status string) bool {
	return status != "queued" && status != "in_progress"
}

// loadResponse returns the owner's stored response; a background one
// whose run's lease has lapsed is ended as failed first.
func (rt *Runtime) loadResponse(ctx context.Context, o store.Owner, id string) (*store.Response, error) {
	r, err := rt.Store.GetResponse(ctx, o, id)
	v, here := rt.starting.Load(id)
	if here && errors.Is(err, store.ErrNotFound) {
		// Started here a moment ago: its row is being written.
		select {
		case <-v.(*starting).ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r, err = rt.Store.GetResponse(ctx, o, id)
	}
	if err != nil {
		return nil, mapStoreErr(err, "", *responseNotFound(id))
	}
	if r.LeaseUntil.IsZero() || terminal(r.Status) || time.Now().Before(r.LeaseUntil) || rt.bg.get(id) != nil || here {
		return r, nil // ended, or running (here, or with a live lease)
	}
	msg := "The gateway running this response stopped before it finished."
	if r.Background {
		msg = "The gateway running this background response stopped before it finished."
	}
	body := patchStatus(r.Body, "failed", &wire.Error{Code: "server_error", Message: msg})
	if _, err := rt.Store.EndBackground(ctx, o, id, "failed", msg, body); err != nil {
		return nil, err
	}
	return rt.Store.GetResponse(ctx, o, id)
}

// patchStatus returns a stored response body with another status.
func patchStatus(body json.RawMessage, status string, e *wire.Error) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	m["status"], _ = json.Marshal(status)
	if e != nil {
		m["error"], _ = json.Marshal(e)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// Cancel cancels the principal's background response and returns it.
// Cancelling one that has ended returns it as it is.
func (rt *Runtime) Cancel(ctx context.Context, p *identity.Principal, id string) (json.RawMessage, error) {
	o := OwnerOf(p)
	r, err := rt.loadResponse(ctx, o, id)
	if err != nil {
		return nil, err
	}
	if !r.Background {
		return nil, invalid("", "Cannot cancel a synchronous response.")
	}
	if terminal(r.Status) {
		return r.Body, nil
	}
	if j := rt.bg.get(id); j != nil {
		// Running here: stop it and wait until what it produced is saved.
		j.cancel(errCancelled)
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	} else {
		// Queued or running at another replica: end the row; that run
		// notices at its next tick and stops without saving over it.
		if _, err := rt.Store.EndBackground(ctx, o, id, "cancelled", "", patchStatus(r.Body, "cancelled", nil)); err != nil {
			return nil, err
		}
	}
	r, err = rt.Store.GetResponse(ctx, o, id)
	if err != nil {
		return nil, mapStoreErr(err, "", *responseNotFound(id))
	}
	return r.Body, nil
}

// FollowEvents sends the principal's response's stream events after
// sequence number after (-1 for all) to emit: the stored ones, and, while
// a background response runs, the rest as they come. It returns
// (false, nil) when the response has no events to give.
func (rt *Runtime) FollowEvents(ctx context.Context, p *identity.Principal, id string, after int64, emit Emit) (bool, error) {
	o := OwnerOf(p)
	r, err := rt.loadResponse(ctx, o, id)
	if err != nil {
		return false, err
	}
	if j := rt.bg.get(id); j != nil {
		return true, follow(ctx, j, int(after+1), emit)
	}
	sent := false
	for {
		evs, err := rt.Store.ResponseEvents(ctx, o, id, after)
		if err != nil {
			return sent, mapStoreErr(err, "", *responseNotFound(id))
		}
		for _, ev := range evs {
			var head struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal(ev, &head)
			if err := emit(head.Type, ev); err != nil {
				return true, err
			}
			sent = true
			after++
		}
		if terminal(r.Status) {
			return sent || after >= 0, nil
		}
		// Running at another replica, or a foreground response still
		// streaming (its events are written when it ends): poll.
		select {
		case <-time.After(rt.tick()):
		case <-ctx.Done():
			return true, ctx.Err()
		}
		if r, err = rt.loadResponse(ctx, o, id); err != nil {
			return true, err
		}
	}
}

// Wait waits until the background responses running here have ended,
// or ctx is done.
func (rt *Runtime) Wait(ctx context.Context) error {
	rt.bg.close()
	done := make(chan struct{})
	go func() { rt.bg.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CancelAll stops the background responses running here (at shutdown):
// each ends as failed with what it produced, and is saved.
func (rt *Runtime) CancelAll() {
	rt.bg.mu.Lock()
	defer rt.bg.mu.Unlock()
	for _, j := range rt.bg.m {
		j.cancel(errShutdown)
	}
}
