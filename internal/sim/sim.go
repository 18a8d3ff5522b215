// Package sim is the upstream simulator behind `causeway sim`: an HTTP
// server that speaks the real wire protocols of the model providers
// (OpenAI, Azure OpenAI, Anthropic Messages, AWS Bedrock, Google Gemini
// and Vertex AI), answers any model name deterministically with exact
// usage, and misbehaves on demand
// (latency, error statuses, stalls, cut and malformed streams) so that the
// gateway's tests and benchmarks have an upstream they control.
//
// It must never share translation logic with the gateway (internal/provider,
// internal/frontdoor, internal/gateway): it shares only wire type
// definitions (internal/schema/...), so that a codec bug cannot pass its
// own tests. It is also the upstream of the overhead benchmarks, so the
// request path avoids regexes, fmt and sleeps when latency is zero.
//
// # Routes
//
// Every protocol is served on the same mux, under its provider's own
// paths. OpenAI (openai.go):
//
//	POST   /v1/chat/completions   OpenAI chat, whole or streamed (SSE)
//	POST   /v1/embeddings         OpenAI embeddings, float or base64
//	GET    /v1/models             a few models
//	GET    /v1/models/{id}        any id, owned_by "causeway-sim"
//
// Azure OpenAI (azure.go: api-version checks, content filter verdicts):
//
//	POST   /openai/deployments/{deployment}/chat/completions?api-version=V
//	POST   /openai/deployments/{deployment}/embeddings?api-version=V
//	POST   /openai/v1/chat/completions   ("model" is the deployment)
//	POST   /openai/v1/embeddings
//
// Anthropic Messages (anthropic.go: needs anthropic-version):
//
//	POST   /v1/messages                  whole, or SSE with "stream": true
//	POST   /v1/messages/count_tokens
//
// AWS Bedrock (bedrock.go: SigV4 verified on every request, any access
// key id with the secret BedrockSecretAccessKey, "sim-secret"):
//
//	POST   /model/{modelId}/converse
//	POST   /model/{modelId}/converse-stream   application/vnd.amazon.eventstream
//	POST   /model/{modelId}/invoke            amazon.titan-embed-*, cohere.embed-*
//
// Google Gemini (gemini.go), and the same bodies on Vertex AI's paths:
//
//	POST   /v1beta/models/{model}:generateContent
//	POST   /v1beta/models/{model}:streamGenerateContent?alt=sse
//	POST   /v1beta/models/{model}:embedContent
//	POST   /v1beta/models/{model}:batchEmbedContents
//	POST   /v1beta/models/{model}:countTokens
//	GET    /v1beta/models, /v1beta/models/{model}
//	POST   /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}
//
// When Options.APIKey is set, every protocol but Bedrock requires it, in
// its own way: "Authorization: Bearer <key>" (OpenAI, Vertex), "api-key"
// or a bearer token (Azure), "x-api-key" or a bearer token (Anthropic),
// "x-goog-api-key" or ?key= (Gemini). Each file documents its routes,
// authentication, error shapes and fault mapping at its top. The control
// API needs no key:
//
//	POST   /sim/faults        body: Fault (without id) → 201 Fault (with id)
//	GET    /sim/faults        → {"faults":[Fault…]}
//	DELETE /sim/faults        remove all → 204
//	DELETE /sim/faults/{id}   remove one → 204, or 404
//	GET    /sim/latency       → {"ttft_ms":N,"itl_ms":N}
//	PUT    /sim/latency       {"ttft_ms":N,"itl_ms":N} (absent = unchanged) → 200 with the new values
//	GET    /sim/stats         → Stats
//	DELETE /sim/stats         reset → 204
//
// See Fault for the fault semantics.
//
// # Determinism and usage
//
// The answer depends only on the conversation: each protocol hashes (FNV-1a
// 64) the model, every message's role, name, text, tool call id and tool
// calls, the tool definitions, tool_choice, the response format and the
// seed parameter, and seeds a splitmix64 generator with the hash; words,
// JSON values and tool call ids all come from it. Sampling parameters
// (temperature, top_p …) are ignored; max_tokens and stop only truncate, so
// a capped answer is a prefix of the uncapped one. n > 1 still gets one
// choice. Response ids are unique per request.
//
// What is answered:
//   - Text: 20 to 28 tokens of pseudo-text; a token is a vocabulary word with
//     its leading space (the first has none). A stream sends one event per
//     token.
//   - Tool calls, when the request has tools, tool_choice is not "none" and
//     the last message is not a tool result: the named tool, else the first;
//     the first two in parallel when parallel_tool_calls is not false, there
//     are two tools or more and the last user message contains the word
//     "parallel" (any case). Arguments (and json_schema answers) are
//     generated from the JSON Schema: every property, in schema order;
//     enum and const give their first value; arrays one item (or minItems);
//     local $ref, anyOf/oneOf (first non-null) and allOf are followed.
//   - After tool results (the last messages are role "tool"): the text
//     "The tool returned: <content>." (several results joined by "; "), cut
//     into tokens at spaces.
//   - json_object: a small JSON object {"answer","confidence","tags"}.
//
// JSON (tool arguments, JSON modes) is streamed in fragments: a run of
// punctuation, or a run of letters and digits optionally led by one space.
//
// Usage is exactly what was sent: completion tokens = the number of text
// tokens or JSON fragments (over all tool calls). Prompt tokens count words
// (runs of non-ASCII-whitespace): for chat, Σ over messages of 4 + the
// words of its text content (string or text parts; images, audio and files
// count none), its refusal, and its tool calls' names and arguments; for
// embeddings, the words of every input, a token array counting one per
// token. cached_tokens and reasoning_tokens are always 0.
//
// Embeddings are unit vectors (1536 dimensions unless "dimensions" says
// otherwise) drawn from a generator seeded with the FNV-1a hash of the
// text: the same text always gets the same vector, whatever the model.
//
// # Latency
//
// A text stream sends its first event (the role) at once, waits TTFT before
// the first content event and ITL before each later one; a tool-call stream
// sends its first event (the role and the first call's header) after TTFT
// and waits ITL before each later one. A whole answer waits TTFT + ITL ×
// output tokens, an embeddings answer TTFT. Every wait ends early if the
// client goes away.
package sim

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a simulator.
type Options struct {
	// TTFT is the delay before the first token; 0 means none.
	TTFT time.Duration
	// ITL is the delay between tokens; 0 means none.
	ITL time.Duration
	// APIKey, when not empty, is required as "Authorization: Bearer <APIKey>"
	// on the model routes.
	APIKey string
	// Logger receives fault and error logs; nil discards them.
	Logger *slog.Logger
}

// Sim is the simulator. It is an http.Handler; the zero value is not usable,
// call New.
type Sim struct {
	mux    *http.ServeMux
	log    *slog.Logger
	bearer string // "Bearer <APIKey>", or "" for no authentication
	ttft   atomic.Int64
	itl    atomic.Int64
	stats  statsTable
	faults faultSet
	// vectors caches encoded embeddings.
	vectors vectorCache
	ids     atomic.Uint64
	idSalt  uint64
}

// New returns a simulator.
func New(opts Options) *Sim {
	s := &Sim{
		mux:    http.NewServeMux(),
		log:    opts.Logger,
		idSalt: uint64(time.Now().UnixNano()),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.APIKey != "" {
		s.bearer = "Bearer " + opts.APIKey
	}
	s.stats.m = make(map[string]*counters)
	s.faults.rng = rng{s: 0x5eed}
	s.SetLatency(opts.TTFT, opts.ITL)
	s.routes()
	return s
}

// protocols add the routes of the protocols other than OpenAI's; each
// registers itself from its own file (anthropic.go, bedrock.go …).
var protocols []func(s *Sim, m *http.ServeMux)

// routes lists every route.
func (s *Sim) routes() {
	m := s.mux
	m.HandleFunc("POST /v1/chat/completions", s.openAIAuth(s.openAIChat))
	m.HandleFunc("POST /v1/embeddings", s.openAIAuth(s.openAIEmbeddings))
	m.HandleFunc("GET /v1/models", s.openAIAuth(s.openAIModels))
	m.HandleFunc("GET /v1/models/{id...}", s.openAIAuth(s.openAIModel))

	m.HandleFunc("POST /sim/faults", s.postFault)
	m.HandleFunc("GET /sim/faults", s.getFaults)
	m.HandleFunc("DELETE /sim/faults", s.deleteFaults)
	m.HandleFunc("DELETE /sim/faults/{id}", s.deleteFault)
	m.HandleFunc("GET /sim/latency", s.getLatency)
	m.HandleFunc("PUT /sim/latency", s.putLatency)
	m.HandleFunc("GET /sim/stats", s.getStats)
	m.HandleFunc("DELETE /sim/stats", s.deleteStats)

	for _, register := range protocols {
		register(s, m)
	}

	m.HandleFunc("/", s.openAINotFound)
}

// ServeHTTP serves every route.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetLatency sets the time to first token and the inter-token latency;
// negative values count as 0.
func (s *Sim) SetLatency(ttft, itl time.Duration) {
	s.ttft.Store(int64(max(ttft, 0)))
	s.itl.Store(int64(max(itl, 0)))
}

// Latency returns the time to first token and the inter-token latency.
func (s *Sim) Latency() (ttft, itl time.Duration) {
	return time.Duration(s.ttft.Load()), time.Duration(s.itl.Load())
}

// Listen binds addr (":0" picks a port) and returns a server for it. The
// caller runs srv.Serve(ln) and ends it with srv.Shutdown. The server has
// no write timeout: streams and stalls may be long on purpose.
func (s *Sim) Listen(ctx context.Context, addr string) (*http.Server, net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return srv, ln, nil
}

// sleep waits d, or until ctx is done; it reports whether it waited it all.
// It costs nothing when d is 0.
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

func msDuration(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

// maxBody caps request bodies.
const maxBody = 32 << 20

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the request body into a pooled buffer; the caller returns
// it with putBody once decoded.
func readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, error) {
	b := bodyPool.Get().(*bytes.Buffer)
	b.Reset()
	if n := r.ContentLength; n > 0 && n < maxBody {
		// ReadFrom wants MinRead spare bytes to see EOF without growing.
		b.Grow(int(n) + bytes.MinRead)
	}
	_, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		putBody(b)
		return nil, err
	}
	return b, nil
}

func putBody(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		bodyPool.Put(b)
	}
}

// newID returns prefix followed by 24 alphanumerics, unique per simulator.
func (s *Sim) newID(prefix string) string {
	r := rng{s: s.ids.Add(1) ^ s.idSalt}
	b := make([]byte, len(prefix), len(prefix)+24)
	copy(b, prefix)
	for range 24 {
		b = append(b, idAlphabet[r.intn(len(idAlphabet))])
	}
	return string(b)
}

var eventPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// sse writes server-sent events, flushing each, and applies a fault's
// cut (drop the connection after N events) or garbage event.
type sse struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte // the event being built; send writes it
	// pooled is buf's pool slot.
	pooled *[]byte
	// sent counts the events written.
	sent      int
	cutAfter  int
	garbageAt int
	garbage   []byte
}

func newSSE(w http.ResponseWriter, c call, garbage []byte) *sse {
	pooled := eventPool.Get().(*[]byte)
	return &sse{
		w:         w,
		rc:        http.NewResponseController(w),
		buf:       (*pooled)[:0],
		pooled:    pooled,
		cutAfter:  c.cutAfter(),
		garbageAt: c.garbageAt(),
		garbage:   garbage,
	}
}

// release returns the buffer to the pool.
func (e *sse) release() {
	if cap(e.buf) <= 64<<10 {
		*e.pooled = e.buf[:0]
		eventPool.Put(e.pooled)
	}
	e.buf, e.pooled = nil, nil
}

// send writes the event in buf. It reports false when the stream must stop:
// the client is gone, or the garbage event was sent. It drops the
// connection (panic(http.ErrAbortHandler)) once cutAfter events are out.
func (e *sse) send() bool {
	if e.sent == e.garbageAt {
		e.write(e.garbage)
		return false
	}
	if !e.write(e.buf) {
		return false
	}
	e.sent++
	if e.cutAfter > 0 && e.sent >= e.cutAfter {
		panic(http.ErrAbortHandler)
	}
	e.buf = e.buf[:0]
	return true
}

// end applies the fault at the end of a stream, if any: it drops the
// connection, or sends the garbage event and reports false. When it reports
// true the caller counts the request complete and then writes the final
// event, so that a client that has seen the end also sees it in the stats.
func (e *sse) end() bool {
	switch {
	case e.cutAfter > 0:
		panic(http.ErrAbortHandler)
	case e.garbageAt >= 0:
		e.write(e.garbage)
		return false
	}
	return true
}

func (e *sse) write(b []byte) bool {
	if _, err := e.w.Write(b); err != nil {
		return false
	}
	// A writer that cannot flush still gets the bytes, later.
	_ = e.rc.Flush()
	return true
}

// writeWhole answers a whole (non-streamed) body as JSON with the call's
// fault applied: a malformed fault sends garbage instead, a cut one half
// the body and drops the connection. headers are more name, value pairs
// (they may replace Content-Type). The call's tokens are counted before
// the write, so that a client that has the body also sees it in the stats.
func (c call) writeWhole(w http.ResponseWriter, body, garbage []byte, input, output int, headers ...string) {
	if c.fault != nil && c.fault.Malformed {
		writeJSON(w, http.StatusOK, garbage)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	if c.fault != nil && c.fault.CutAfterChunks > 0 {
		writeCut(w, body)
	}
	c.complete(input, output)
	_, _ = w.Write(body)
}

// writeCut writes the first half of body, flushes it and drops the
// connection: a whole answer cut mid-body.
func writeCut(w http.ResponseWriter, body []byte) {
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}
