package responses

import (
	"net/http"

	"github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/gateway"
)

// CompactRoutes lists the compaction route. Its path has a fixed last
// segment, so it never clashes with the {id} routes under
// /v1/responses/ (a request for /v1/responses/compact is this route;
// "compact" is not a response id).
func CompactRoutes() []string {
	return []string{"POST /v1/responses/compact"}
}

func (h *Handler) compactHandlers() []http.HandlerFunc {
	return []http.HandlerFunc{h.compact}
}

// compact serves POST /v1/responses/compact: model, input,
// previous_response_id (or conversation) and instructions, as OpenAI
// takes them; the answer is {id, object: "response.compaction",
// created_at, output, usage}.
func (h *Handler) compact(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	body, err := gateway.ReadBody(w, r, h.MaxBodyBytes)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	cp, err := DecodeCreate(body)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	if cp.Req.Stream {
		openai.WriteError(w, invalid("stream", "Compaction is not streamed.").WithCode("unsupported_value"))
		return
	}
	gateway.SetModel(r.Context(), cp.Req.Model, false)
	out, err := h.RT.Compact(r.Context(), p, cp)
	reply(w, out, err)
}
