package mcptool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
)

// PinStore remembers the approved hash of each (server, tool) pair, so a
// tool seen for the first time is pinned and a later change of its
// description or schema is noticed, across restarts when the store is
// durable (store.ToolPins). Pins configured in the server's
// config.MCPServer.Pins take precedence and are never written here.
type PinStore interface {
	// Get returns the pinned hash of server's tool, and false when the
	// tool has no pin yet.
	Get(ctx context.Context, server, tool string) (hash string, ok bool, err error)
	// PinFirst pins server's tool to hash unless it has a pin already,
	// and returns the pin in force: of two gateways that see different
	// versions first, one pins and the other is held to it.
	PinFirst(ctx context.Context, server, tool, hash string) (pinned string, err error)
	// Approve pins server's tool to hash, replacing any pin; by names who
	// approved it.
	Approve(ctx context.Context, server, tool, hash, by string) error
}

// FirstSight is the approver recorded for a pin taken on first sight.
const FirstSight = "first-sight"

// MemoryPins is a PinStore that lives as long as the process. It is safe
// for concurrent use; the zero value is ready.
type MemoryPins struct {
	mu   sync.Mutex
	pins map[[2]string]string
}

var _ PinStore = (*MemoryPins)(nil)

// NewMemoryPins returns an empty in-memory PinStore.
func NewMemoryPins() *MemoryPins { return &MemoryPins{} }

// Get implements PinStore.
func (m *MemoryPins) Get(_ context.Context, server, tool string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.pins[[2]string{server, tool}]
	return h, ok, nil
}

// PinFirst implements PinStore.
func (m *MemoryPins) PinFirst(_ context.Context, server, tool, hash string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.pins[[2]string{server, tool}]; ok {
		return h, nil
	}
	if m.pins == nil {
		m.pins = map[[2]string]string{}
	}
	m.pins[[2]string{server, tool}] = hash
	return hash, nil
}

// Approve implements PinStore.
func (m *MemoryPins) Approve(_ context.Context, server, tool, hash, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pins == nil {
		m.pins = map[[2]string]string{}
	}
	m.pins[[2]string{server, tool}] = hash
	return nil
}

// Hash returns the pin of a tool as its server describes it: the hex
// SHA-256 of the canonical JSON of
//
//	{"description": description, "inputSchema": schema, "name": name}
//
// where canonical means object keys sorted, no insignificant whitespace,
// no HTML escaping and numbers as the server wrote them. name is the
// server's own tool name (without the "<server>__" prefix). An empty
// schema counts as null.
func Hash(name, description string, schema json.RawMessage) (string, error) {
	var s any
	if len(bytes.TrimSpace(schema)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(schema))
		dec.UseNumber()
		if err := dec.Decode(&s); err != nil {
			return "", fmt.Errorf("input schema: %w", err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// encoding/json writes map keys sorted, which makes this canonical.
	if err := enc.Encode(map[string]any{"name": name, "description": description, "inputSchema": s}); err != nil {
		return "", err
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return hex.EncodeToString(sum[:]), nil
}
