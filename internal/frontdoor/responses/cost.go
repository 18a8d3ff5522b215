package responses

// Causeway's cost extensions (what a response or a conversation cost,
// from the usage ledger) and OpenAI's input-token count.

import (
	"encoding/json"
	"net/http"

	"github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/gateway"
)

// CostRoutes lists the cost and token-count routes, in the order of
// costHandlers.
func CostRoutes() []string {
	return []string{
		"GET /v1/responses/{id}/cost",
		"GET /v1/conversations/{id}/cost",
		"POST /v1/responses/input_tokens",
	}
}

func (h *Handler) costHandlers() []http.HandlerFunc {
	return []http.HandlerFunc{byID(h, h.RT.ResponseCost), byID(h, h.RT.ConversationCost), h.inputTokens}
}

// InputTokens is the body of POST /v1/responses/input_tokens.
type InputTokens struct {
	Object      string `json:"object"` // "response.input_tokens"
	InputTokens int64  `json:"input_tokens"`
}

// inputTokens answers POST /v1/responses/input_tokens: the body is a
// create request (model optional, as on OpenAI), and the count is the
// runtime's offline estimate of the first model call's input.
func (h *Handler) inputTokens(w http.ResponseWriter, r *http.Request) {
	p, body := h.withBody(w, r)
	if p == nil {
		return
	}
	var head map[string]json.RawMessage
	if err := decodeJSON(body, &head); err != nil {
		openai.WriteError(w, err)
		return
	}
	if head == nil {
		openai.WriteError(w, invalid("", "Invalid body: expected a JSON object.").WithCode("invalid_type"))
		return
	}
	var model string
	_ = json.Unmarshal(head["model"], &model)
	if model == "" {
		// The count needs no model; DecodeCreate does.
		head["model"] = json.RawMessage(`"-"`)
	}
	// Counting runs nothing: stream and background do not apply.
	delete(head, "stream")
	delete(head, "background")
	body, _ = json.Marshal(head)
	cp, err := DecodeCreate(body)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	if model != "" {
		gateway.SetModel(r.Context(), model, false)
		if _, err := h.GW.Alias(p, model); err != nil {
			openai.WriteError(w, err)
			return
		}
	}
	n, err := h.RT.InputTokens(r.Context(), p, cp)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	writeJSON(w, &InputTokens{Object: "response.input_tokens", InputTokens: n})
}
