// Package tool defines the server-side tools the stateful runtime executes
// on a model's behalf — HTTP endpoints, MCP servers' tools, a code sandbox
// — as one small interface, and a registry the runtime looks tools up in.
// Implementations live in subpackages (tool/httptool, tool/sandbox,
// tool/mcptool). A tool always runs as the principal that made the
// request; it never sees another tenant's data or a secret of the
// configuration.
package tool

import (
	"context"
	"encoding/json"
	"sort"
	"sync"

	"github.com/causeway-ai/causeway/internal/identity"
)

// Tool is one server-side tool.
type Tool interface {
	// Name is the function name the model calls it by; unique in a registry.
	Name() string
	// Description tells the model what the tool does.
	Description() string
	// Parameters is the JSON Schema of the arguments object.
	Parameters() json.RawMessage
	// Call runs the tool. An error means the tool could not run (it is
	// reported to the model as a failed tool result, not to the client);
	// a tool that ran and failed returns a Result with IsError.
	Call(ctx context.Context, c Call) (Result, error)
}

// Call is one invocation.
type Call struct {
	// Principal is who the runtime acts for: the tool runs as them.
	Principal *identity.Principal
	// Arguments is the model's arguments object.
	Arguments json.RawMessage
	// ResponseID and ConversationID place the call, for logs and metering.
	ResponseID     string
	ConversationID string
}

// Result is what a tool returns to the model.
type Result struct {
	// Output is the text the model sees.
	Output string
	// IsError marks a result that reports a failure.
	IsError bool
	// Meta is shown to the client with the tool call (not to the model),
	// e.g. an HTTP status or the freshness of data.
	Meta map[string]any
}

// Registry holds the tools a server offers. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	tools map[string]Tool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{tools: map[string]Tool{}} }

// Add registers t, replacing a tool of the same name.
func (r *Registry) Add(t Tool) {
	r.mu.Lock()
	r.tools[t.Name()] = t
	r.mu.Unlock()
}

// Remove unregisters a tool.
func (r *Registry) Remove(name string) {
	r.mu.Lock()
	delete(r.tools, name)
	r.mu.Unlock()
}

// Get returns the named tool.
func (r *Registry) Get(name string) (Tool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tools[name]
	return t, ok
}

// Names returns the registered tools' names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.tools))
	for n := range r.tools {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
