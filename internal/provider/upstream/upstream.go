// Package upstream holds the transport pieces every provider codec shares:
// the HTTP client built from a provider's limits and their defaults, the
// watchdog that enforces the first-token and idle timeouts, the mapping of
// transport errors to error kinds, Retry-After parsing, bounded body reads,
// and the call that ties a request's context, watchdog and response body
// together.
//
// It holds no wire format: request encoding, stream decoding and the
// mapping of error bodies stay in each provider's package. It must never
// import a front door or the gateway.
package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/causeway-ai/causeway/internal/llm"
)

// Limits are the transport bounds every provider's Config carries, under
// the same names and with the same meaning. A zero (or negative) field
// takes its default: 5s to connect, 60s to the first token and between
// events, 10m for the whole call, 256 idle connections, 64 MiB for a body,
// a stream line or a frame.
type Limits struct {
	ConnectTimeout, FirstTokenTimeout, IdleTimeout, TotalTimeout time.Duration
	MaxIdleConns, MaxResponseBytes                               int
}

// withDefaults returns l with its zero (or negative) fields defaulted.
func (l Limits) withDefaults() Limits {
	if l.ConnectTimeout <= 0 {
		l.ConnectTimeout = 5 * time.Second
	}
	if l.FirstTokenTimeout <= 0 {
		l.FirstTokenTimeout = 60 * time.Second
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 60 * time.Second
	}
	if l.TotalTimeout <= 0 {
		l.TotalTimeout = 10 * time.Minute
	}
	if l.MaxIdleConns <= 0 {
		l.MaxIdleConns = 256
	}
	if l.MaxResponseBytes <= 0 {
		l.MaxResponseBytes = 64 << 20
	}
	return l
}

// errorBodyLimit caps how much of an error answer is read.
const errorBodyLimit = 64 << 10

// Client is the connection pool to one upstream, with the limits (their
// defaults applied) that bound its calls.
type Client struct {
	Limits
	// HTTP is the pooled client; credential fetches may share it.
	HTTP *http.Client
}

// NewClient builds a client for l; it opens no connection.
func NewClient(l Limits) *Client {
	l = l.withDefaults()
	dialer := &net.Dialer{Timeout: l.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          l.MaxIdleConns,
		MaxIdleConnsPerHost:   l.MaxIdleConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   l.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &Client{Limits: l, HTTP: &http.Client{Transport: tr}}
}

// CloseIdleConnections closes the pool's idle connections.
func (c *Client) CloseIdleConnections() { c.HTTP.CloseIdleConnections() }

// ChatFirst is the first-token bound of a chat call. A whole answer's
// headers come only when generation is done, so the first-token timeout
// applies to streams; a whole call is bounded by the total timeout (the
// watchdog gets a minute more, so the total deadline fires first).
func (c *Client) ChatFirst(stream bool) time.Duration {
	if stream {
		return c.FirstTokenTimeout
	}
	return c.TotalTimeout + time.Minute
}

// Open starts a call bounded by the total timeout, with a watchdog that
// allows first before the response (and a stream's first event) and the
// idle timeout between events, and sends the request with send. An answer
// that is not 2xx is read (up to 64 KiB), closed and turned into an error
// by errorOf. The caller ends the returned call with Whole, ReadAll or
// Close.
func (c *Client) Open(ctx context.Context, first time.Duration, send func(context.Context) (*http.Response, error),
	errorOf func(status int, h http.Header, body []byte) error) (*Call, error) {
	ctx, cancel := context.WithTimeout(ctx, c.TotalTimeout)
	call := &Call{Ctx: ctx, cancel: cancel, wd: newWatchdog(first, c.IdleTimeout, cancel), limit: c.MaxResponseBytes}
	resp, err := send(ctx)
	if err != nil {
		err = call.Explain(err)
		call.end()
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		b, _ := ReadAll(resp.Body, errorBodyLimit)
		resp.Body.Close()
		call.end()
		return nil, errorOf(resp.StatusCode, resp.Header, b)
	}
	call.Body, call.Header = resp.Body, resp.Header
	return call, nil
}

// Call is one upstream call in progress: its context, the watchdog and
// the response body.
type Call struct {
	// Ctx is the call's context, bounded by the total timeout.
	Ctx context.Context
	// Body is the response body.
	Body io.ReadCloser
	// Header holds the response headers.
	Header http.Header

	cancel context.CancelFunc
	wd     *watchdog
	limit  int
}

// Unbounded returns a call that reads r with no effective timeouts; the
// golden translation tests and fuzz targets decode streams through it.
func Unbounded(r io.Reader) *Call {
	ctx, cancel := context.WithCancel(context.Background())
	return &Call{Ctx: ctx, cancel: cancel, wd: newWatchdog(time.Hour, time.Hour, cancel),
		Body: io.NopCloser(r), limit: 1 << 20}
}

// Tick records progress: the upstream has until the idle timeout to send
// the next event.
func (c *Call) Tick() { c.wd.tick() }

// Explain turns an error caused by the watchdog or the total timeout into
// a timeout error; other errors pass through Classify.
func (c *Call) Explain(err error) error { return c.wd.explain(c.Ctx, err) }

// Interrupted returns, once the call's context has ended, why (a timeout
// or a cancellation); nil while it is live. A stream that ends early asks
// it before blaming the upstream.
func (c *Call) Interrupted() error {
	if err := c.Ctx.Err(); err != nil {
		return c.Explain(err)
	}
	return nil
}

// Cut explains an error from reading a stream that has not yet sent its
// end: an end of the body (io.EOF or io.ErrUnexpectedEOF) while the call
// is live is the upstream's fault, said by message; the rest go through
// Explain.
func (c *Call) Cut(err error, message string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		if err := c.Interrupted(); err != nil {
			return err
		}
		return &llm.Error{Kind: llm.KindUpstream, Message: message}
	}
	return c.Explain(err)
}

// Expect checks that a streamed answer's Content-Type, when given, starts
// with mediaType; otherwise it ends the call with an error.
func (c *Call) Expect(mediaType string) error {
	if ct := c.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, mediaType) {
		c.Body.Close()
		c.end()
		return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream answered a streaming request with Content-Type " + ct}
	}
	return nil
}

// ReadAll reads the whole body, up to the response limit, and ends the
// call.
func (c *Call) ReadAll() ([]byte, error) {
	defer c.end()
	defer c.Body.Close()
	b, err := ReadAll(c.Body, c.limit)
	if err != nil {
		return nil, c.Explain(err)
	}
	return b, nil
}

// Whole reads a whole answer, ends the call, and returns the events decode
// makes of it as a stream.
func (c *Call) Whole(decode func([]byte) ([]llm.Event, error)) (llm.Stream, error) {
	b, err := c.ReadAll()
	if err != nil {
		return nil, err
	}
	evs, err := decode(b)
	if err != nil {
		return nil, err
	}
	return Events(evs), nil
}

// Close ends the call and closes the body.
func (c *Call) Close() error {
	c.end()
	return c.Body.Close()
}

func (c *Call) end() {
	c.wd.stop()
	c.cancel()
}

// watchdog cancels a call whose upstream is silent for too long and
// remembers why, so the error says which timeout fired. It uses one timer,
// reset on every event.
type watchdog struct {
	t     *time.Timer
	state atomic.Int32 // 0 waiting for the first event, 3 streaming
	fired atomic.Int32 // 1 first token, 2 idle
	idle  time.Duration
	first time.Duration
}

func newWatchdog(first, idle time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{idle: idle, first: first}
	w.t = time.AfterFunc(first, func() {
		if w.state.Load() == 0 {
			w.fired.CompareAndSwap(0, 1)
		} else {
			w.fired.CompareAndSwap(0, 2)
		}
		cancel()
	})
	return w
}

func (w *watchdog) tick() {
	w.state.Store(3)
	w.t.Reset(w.idle)
}

func (w *watchdog) stop() { w.t.Stop() }

func (w *watchdog) explain(ctx context.Context, err error) error {
	switch w.fired.Load() {
	case 1:
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream sent nothing within the first-token timeout of " + w.first.String(), Err: err}
	case 2:
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream stream was idle for longer than " + w.idle.String(), Err: err}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream did not finish within the total timeout", Err: err}
	}
	return Classify(err)
}

// Classify maps a transport error to a Kind; an *llm.Error passes as it
// is.
func Classify(err error) error {
	if _, ok := errors.AsType[*llm.Error](err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return &llm.Error{Kind: llm.KindCanceled, Message: "the request was canceled", Err: err}
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return &llm.Error{Kind: llm.KindTimeout, Message: "the upstream timed out", Err: err}
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return &llm.Error{Kind: llm.KindUnavailable, Message: "could not connect to the upstream", Err: err}
	}
	return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream connection failed", Err: err}
}

// RetryAfter parses a Retry-After value: delay seconds (fractions
// allowed) or an HTTP date; 0 when absent, unreadable, or absurd (10⁹
// seconds or more, which would also overflow a Duration).
func RetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || n >= 1e9 {
			return 0
		}
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// ReadAll reads r to its end, failing with KindUpstream when it holds more
// than limit bytes.
func ReadAll(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream response exceeds " + strconv.Itoa(limit) + " bytes"}
	}
	return b, nil
}

// Events returns a stream that yields evs, the events decoded from a
// whole answer.
func Events(evs []llm.Event) llm.Stream { return &sliceStream{events: evs} }

type sliceStream struct {
	events []llm.Event
}

func (s *sliceStream) Next() (llm.Event, error) {
	if len(s.events) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.events[0]
	s.events = s.events[1:]
	return ev, nil
}

func (s *sliceStream) Close() error { return nil }

// Queue holds the events a stream decoder has made but not yet returned.
type Queue struct {
	Events []llm.Event
	next   int
}

// Pop returns the next event held, if any.
func (q *Queue) Pop() (llm.Event, bool) {
	if q.next >= len(q.Events) {
		return llm.Event{}, false
	}
	ev := q.Events[q.next]
	q.next++
	return ev, true
}

// Held reports whether events are held.
func (q *Queue) Held() bool { return q.next < len(q.Events) }

// Clear empties the queue for the next decoding step, keeping its storage.
func (q *Queue) Clear() { q.Events, q.next = q.Events[:0], 0 }
