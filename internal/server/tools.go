package server

import (
	"fmt"
	"sync/atomic"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/tool"
	"github.com/causeway-ai/causeway/internal/tool/httptool"
)

// serverTools are the server-side tools the Responses runtime runs, and
// the tool loop's step cap; a reload updates them in place.
type serverTools struct {
	reg      *tool.Registry
	maxSteps atomic.Int64
	// http are the HTTP tools from the configuration, by name.
	http map[string]*httptool.Tool
}

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
	return nil
}
