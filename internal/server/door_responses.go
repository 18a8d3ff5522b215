package server

import (
	"net/http"

	respdoor "github.com/causeway-ai/causeway/internal/frontdoor/responses"
	"github.com/causeway-ai/causeway/internal/runtime"
)

// The Responses and Conversations door: OpenAI's stateful APIs on any
// provider, with state in Causeway's own database.
func init() {
	doorRegistrars = append(doorRegistrars, func(s *Server, mux *http.ServeMux) {
		rt := &runtime.Runtime{GW: s.gw, Store: s.store, Tools: s.tools.reg, MaxSteps: s.tools.steps, Meter: s.meter,
			Memory: s.memoryService()}
		if x := s.memoryExtractor(); x != nil {
			rt.Extract = x
		}
		h := &respdoor.Handler{GW: s.gw, RT: rt, MaxBodyBytes: s.cfg.Limits.MaxBodyBytes}
		h.Register(mux)
	})
}
