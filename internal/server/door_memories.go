package server

import (
	"net/http"

	memdoor "github.com/causeway-ai/causeway/internal/frontdoor/memories"
	"github.com/causeway-ai/causeway/internal/memory"
)

// The memories door (/v1/memories) and the admin erasure that goes with
// it: POST /admin/v1/erase deletes everything kept for one user of a
// tenant and answers with a receipt.
func init() {
	doorRegistrars = append(doorRegistrars, func(s *Server, mux *http.ServeMux) {
		svc := s.memoryService()
		h := &memdoor.Handler{GW: s.gw, Svc: svc, MaxBodyBytes: s.cfg.Limits.MaxBodyBytes}
		h.Register(mux)
		mux.HandleFunc("POST /admin/v1/erase", s.admin(func(w http.ResponseWriter, r *http.Request, tenant string) error {
			return s.erase(w, r, tenant, svc)
		}))
	})
}

// memoryService is the memory service as configured: embedding through
// the gateway when memory.embedding_model is set (read at each use, so a
// reload changes it).
func (s *Server) memoryService() *memory.Service {
	return &memory.Service{Store: s.store, Embedder: s.gw,
		Model: func() string { return s.live.Load().Memory.EmbeddingModel },
		Cap:   func() int { return s.live.Load().Memory.Cap() }}
}

// memoryExtractor is the server's one memory extractor; it extracts while
// memory.extraction_model is set (read at each turn, so a reload turns
// it on or off). Its timeout, concurrency and queue are the starting
// configuration's. Shutdown waits for it.
func (s *Server) memoryExtractor() *memory.Extractor {
	if s.extractor == nil {
		mc := s.cfg.Memory
		s.extractor = memory.NewExtractor(s.memoryService(), s.gw, func() string { return s.live.Load().Memory.ExtractionModel },
			mc.Timeout(), mc.Concurrency(), mc.Queue(), s.log)
	}
	return s.extractor
}

// EraseRequest is the body of POST /admin/v1/erase. Tenant, when set,
// overrides ?tenant= (and the default tenant).
type EraseRequest struct {
	Tenant string `json:"tenant"`
	User   string `json:"user"`
}

func (s *Server) erase(w http.ResponseWriter, r *http.Request, tenant string, svc *memory.Service) error {
	var req EraseRequest
	if err := decodeJSON(r, w, &req); err != nil {
		return err
	}
	if req.Tenant != "" {
		tenant = req.Tenant
	}
	rc, err := svc.Erase(r.Context(), tenant, req.User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rc)
	return nil
}

// WaitMemoryExtractions returns when the memory extractions started so
// far have finished (at once when extraction is off).
func (s *Server) WaitMemoryExtractions() {
	if s.extractor != nil {
		s.extractor.Wait()
	}
}
