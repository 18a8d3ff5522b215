package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/tool"
	"github.com/causeway-ai/causeway/internal/tool/httptool"
	"github.com/causeway-ai/causeway/internal/tool/mcptool"
	"github.com/causeway-ai/causeway/internal/tool/sandbox"
)

// serverTools are the server-side tools the Responses runtime runs, and
// the tool loop's step cap; a reload updates them in place.
type serverTools struct {
	reg      *tool.Registry
	maxSteps atomic.Int64
	// http are the HTTP tools from the configuration, by name.
	http map[string]*httptool.Tool
	// mcpMu guards mcp and mcpNames, which a server's refresh in the
	// background updates through syncMCP.
	mcpMu sync.Mutex
	// mcp are the connected MCP servers.
	mcp []*mcptool.Server
	// mcpNames are the MCP tools in reg: those enabled now.
	mcpNames map[string]bool
	// pins remember MCP tool hashes, in the store: a restart keeps a
	// changed tool disabled.
	pins mcptool.PinStore
}

var _ mcptool.PinStore = store.PinStore{}

// steps is the configured cap on a response's model calls (0: default).
func (t *serverTools) steps() int { return int(t.maxSteps.Load()) }

// loadTools builds the HTTP tools of cfg.Tools into the server's registry,
// replacing those of the previous configuration. Nothing changes if one
// fails to build. Called by New and Reload (under reloadMu).
func (s *Server) loadTools(cfg *config.Config) error {
	built := make(map[string]*httptool.Tool, len(cfg.Tools.HTTP))
	for _, c := range cfg.Tools.HTTP {
		if _, dup := built[c.Name]; dup {
			return fmt.Errorf("tools.http: duplicate tool name %q", c.Name)
		}
		t, err := httptool.New(c)
		if err != nil {
			return fmt.Errorf("tools.http: %w", err)
		}
		built[c.Name] = t
	}
	if s.tools == nil {
		s.tools = &serverTools{reg: tool.NewRegistry()}
	}
	for name, old := range s.tools.http {
		if _, ok := built[name]; !ok {
			s.tools.reg.Remove(name)
		}
		old.Close() // idle connections only; calls in flight finish
	}
	for _, t := range built {
		s.tools.reg.Add(t)
	}
	s.tools.http = built
	s.tools.maxSteps.Store(int64(cfg.Tools.MaxSteps))
	s.loadMCP(cfg)
	if cfg.Tools.Sandbox.Enabled {
		s.tools.reg.Add(sandbox.New(cfg.Tools.Sandbox))
	} else {
		s.tools.reg.Remove(sandbox.Name)
	}
	return nil
}

// loadMCP connects the configured MCP servers and offers their enabled
// tools, replacing those of the previous configuration. A server that
// cannot be reached is logged and left out rather than stopping the
// gateway.
func (s *Server) loadMCP(cfg *config.Config) {
	t := s.tools
	if t.pins == nil {
		t.pins = store.PinStore{S: s.store}
	}
	t.mcpMu.Lock()
	old := t.mcp
	for name := range t.mcpNames {
		t.reg.Remove(name)
	}
	t.mcp, t.mcpNames = nil, nil
	t.mcpMu.Unlock()
	// Outside mcpMu: Close waits for background refreshes, which call
	// syncMCP.
	for _, srv := range old {
		_ = srv.Close()
	}
	for _, c := range cfg.Tools.MCP {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		srv, err := mcptool.Connect(ctx, c, t.pins, mcptool.WithLogger(s.log), mcptool.WithOnChange(t.syncMCP))
		cancel()
		if err != nil {
			s.log.Error("MCP server unavailable; its tools are not offered", slog.String("mcp", c.Name), slog.Any("error", err))
			continue
		}
		t.mcpMu.Lock()
		t.mcp = append(t.mcp, srv)
		t.mcpMu.Unlock()
	}
	t.syncMCP()
}

// syncMCP makes the registry offer exactly the MCP tools enabled now: a
// tool approved or added since appears, one disabled or gone leaves.
func (t *serverTools) syncMCP() {
	t.mcpMu.Lock()
	defer t.mcpMu.Unlock()
	enabled := map[string]bool{}
	for _, srv := range t.mcp {
		for _, tl := range srv.Tools() {
			enabled[tl.Name()] = true
			t.reg.Add(tl)
		}
	}
	for name := range t.mcpNames {
		if !enabled[name] {
			t.reg.Remove(name)
		}
	}
	t.mcpNames = enabled
}

// mcpServers returns the connected MCP servers.
func (t *serverTools) mcpServers() []*mcptool.Server {
	t.mcpMu.Lock()
	defer t.mcpMu.Unlock()
	return slices.Clone(t.mcp)
}

// isMCP reports whether name is an MCP tool in the registry.
func (t *serverTools) isMCP(name string) bool {
	t.mcpMu.Lock()
	defer t.mcpMu.Unlock()
	return t.mcpNames[name]
}
