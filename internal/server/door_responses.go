package server

import (
	"net/http"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/config"
	respdoor "github.com/causeway-ai/causeway/internal/frontdoor/responses"
	"github.com/causeway-ai/causeway/internal/metrics"
	"github.com/causeway-ai/causeway/internal/runtime"
)

// The Responses and Conversations door: OpenAI's stateful APIs on any
// provider, with state in Causeway's own database.
func init() {
	doorRegistrars = append(doorRegistrars, func(s *Server, mux *http.ServeMux) {
		rt := &runtime.Runtime{GW: s.gw, Store: s.store, Tools: s.tools.reg, MaxSteps: s.tools.steps, Meter: s.meter,
			Memory: s.memoryService(), NeedsApproval: s.needsApproval, Ledger: s.store,
			MaxResponseCost: func() int64 { return billing.FromUSD(s.live.Load().Tools.MaxResponseCostUSD) },
			Compaction:      func() *runtime.CompactionSettings { return compactionSettings(s.live.Load().Compaction) }}
		rt.Observe = runtimeMetrics{s.metrics}
		if x := s.memoryExtractor(); x != nil {
			rt.Extract = x
		}
		s.drains = append(s.drains, rt)
		h := &respdoor.Handler{GW: s.gw, RT: rt, MaxBodyBytes: s.cfg.Limits.MaxBodyBytes}
		h.Register(mux)
	})
}

// needsApproval reports whether the configuration in force requires a
// person's approval of calls to the server-side tool name.
func (s *Server) needsApproval(name string) bool {
	return s.live.Load().Tools.NeedsApproval(name)
}

// compactionSettings is the configuration's compaction section for the
// runtime; nil when the configuration has none.
func compactionSettings(c *config.Compaction) *runtime.CompactionSettings {
	if c == nil {
		return nil
	}
	return &runtime.CompactionSettings{Model: c.Model, Threshold: c.Threshold(), KeepRecentTurns: c.KeepTurns(),
		MaxSummaryTokens: c.SummaryTokens(), Configured: true}
}

// runtimeMetrics puts what the runtime does into the Prometheus metrics.
type runtimeMetrics struct{ m *metrics.Metrics }

func (r runtimeMetrics) ToolCall(tool, outcome string) {
	r.m.ToolCalls.WithLabelValues(tool, outcome).Inc()
}

func (r runtimeMetrics) Background(delta int) { r.m.BackgroundResponses.Add(float64(delta)) }
