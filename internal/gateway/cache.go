package gateway

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
)

// The response cache answers an exact repeat of a deterministic request
// from memory. It is opt-in per alias (cache_ttl), keyed by tenant, alias
// and the whole canonical request, so it is never shared across tenants;
// a request bypasses it with "Cache-Control: no-cache" or
// "x-causeway-cache: bypass".

const (
	cacheMaxEntries = 10000
	cacheMaxEvents  = 4096 // larger answers are not cached
)

type cacheEntry struct {
	key     string
	events  []llm.Event
	usage   llm.Usage
	model   string
	expires time.Time
	elem    *list.Element
}

type respCache struct {
	mu  sync.Mutex
	m   map[string]*cacheEntry
	lru *list.List
}

func newRespCache() *respCache { return &respCache{m: map[string]*cacheEntry{}, lru: list.New()} }

func (c *respCache) get(key string, now time.Time) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil
	}
	if now.After(e.expires) {
		c.lru.Remove(e.elem)
		delete(c.m, key)
		return nil
	}
	c.lru.MoveToFront(e.elem)
	return e
}

func (c *respCache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[e.key]; ok {
		c.lru.Remove(old.elem)
	}
	e.elem = c.lru.PushFront(e)
	c.m[e.key] = e
	for c.lru.Len() > cacheMaxEntries {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.m, last.Value.(*cacheEntry).key)
	}
}

// cacheable reports whether a request's answer may be reused: sampling
// must be pinned (temperature 0 or a seed) and one choice asked for.
func cacheable(req *llm.Request) bool {
	if req.N > 1 {
		return false
	}
	return (req.Temperature != nil && *req.Temperature == 0) || req.Seed != nil
}

func cacheKey(tenant, alias string, req *llm.Request) string {
	r := *req
	r.Stream = false // a whole answer serves a stream and back
	b, err := json.Marshal(struct {
		T, A  string
		R     *llm.Request
		Extra map[string]json.RawMessage
	}{tenant, alias, &r, req.Extra})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// cacheProvider names cache hits in usage records and metrics.
type cacheProvider struct{}

func (cacheProvider) Name() string { return "cache" }
func (cacheProvider) Chat(context.Context, *llm.Request) (llm.Stream, error) {
	return nil, io.ErrUnexpectedEOF
}
func (cacheProvider) Embed(context.Context, *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	return nil, io.ErrUnexpectedEOF
}

type replayStream struct{ events []llm.Event }

func (s *replayStream) Next() (llm.Event, error) {
	if len(s.events) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.events[0]
	s.events = s.events[1:]
	return ev, nil
}
func (s *replayStream) Close() error { return nil }

// fromCache answers a request from a cache entry: a call whose events are
// the stored ones, metered at no cost under provider "cache".
func (g *Gateway) fromCache(ctx context.Context, p *identity.Principal, alias *Alias, req *llm.Request, e *cacheEntry) (*Call, error) {
	g.inflight.Add(1)
	c := &Call{
		g: g, p: p, alias: alias, req: req, rid: RequestID(ctx), tie: tieOf(ctx), attempt: 1,
		target: &Target{Provider: cacheProvider{}, Model: e.model},
		Model:  alias.Name, Provider: "cache", UpstreamModel: e.model,
		start: time.Now(), stream: &replayStream{events: e.events},
		cancel: func() {}, stopAF: func() bool { return true },
		cached: true,
	}
	if err := c.preamble(); err != nil {
		c.err = err
		c.finish(false)
		return nil, err
	}
	c.ID = "chatcmpl-" + strings.TrimPrefix(c.rid, "req_") // a new answer, though the same text
	c.Created = c.start.Unix()
	return c, nil
}

// remember stores a finished call's events when it was cacheable.
func (c *Call) remember() {
	if c.cacheKey == "" || c.err != nil || !c.eof || len(c.recorded) > cacheMaxEvents {
		return
	}
	c.g.cache.put(&cacheEntry{key: c.cacheKey, events: c.recorded, usage: c.usage,
		model: c.UpstreamModel, expires: time.Now().Add(c.alias.CacheTTL)})
}
