package server

import (
	"net/http"

	antdoor "github.com/causeway-ai/causeway/internal/frontdoor/anthropic"
)

// The Anthropic Messages door: POST /v1/messages and
// /v1/messages/count_tokens, for the Anthropic SDKs and Claude Code.
func init() {
	doorRegistrars = append(doorRegistrars, func(s *Server, mux *http.ServeMux) {
		h := &antdoor.Handler{GW: s.gw, MaxBodyBytes: s.cfg.Limits.MaxBodyBytes}
		h.Register(mux)
	})
}
