package responses

// Causeway's extensions to the Responses and Conversations APIs, which
// OpenAI's API lacks: listing the caller's own responses and
// conversations, and exporting and importing a conversation as JSON lines.

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/runtime"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
)

// ExportRoutes lists the extension routes, in the order of the handlers
// registered by Register.
func ExportRoutes() []string {
	return []string{
		"GET /v1/responses",
		"GET /v1/conversations",
		"GET /v1/conversations/{id}/export",
		"POST /v1/conversations/import",
	}
}

func (h *Handler) exportHandlers() []http.HandlerFunc {
	return []http.HandlerFunc{listed(h, h.RT.ListResponses), listed(h, h.RT.ListConversations), h.exportConversation, h.importConversation}
}

// exportConversation writes the caller's conversation as JSON lines: the
// conversation object, then its items in order as the items API returns
// them.
func (h *Handler) exportConversation(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	id := r.PathValue("id")
	c, err := h.RT.GetConversation(r.Context(), p, id)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	items, err := h.RT.Items(r.Context(), p, id, runtime.Page{Asc: true})
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	var buf bytes.Buffer
	line, err := json.Marshal(c)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	buf.Write(line)
	buf.WriteByte('\n')
	for _, it := range items.Data {
		if err := json.Compact(&buf, it); err != nil {
			openai.WriteError(w, err)
			return
		}
		buf.WriteByte('\n')
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/x-ndjson")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// importConversation creates a new conversation of the caller's from an
// export: new ids for the conversation and its items, the items' content
// and the metadata kept. A malformed line fails the whole import, naming
// the line; nothing is written.
func (h *Handler) importConversation(w http.ResponseWriter, r *http.Request) {
	p, body := h.withBody(w, r)
	if p == nil {
		return
	}
	meta, items, err := decodeExport(body)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	c, err := h.RT.CreateConversation(r.Context(), p, items, meta)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	b, err := json.Marshal(c)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(b)
}

// decodeExport reads an export: its conversation's metadata and its items
// without their ids (the runtime gives them new ones). Blank lines are
// skipped; line numbers count from 1.
func decodeExport(body []byte) (map[string]string, []wire.Item, error) {
	var (
		meta  map[string]string
		items []wire.Item
		seen  bool
	)
	for n, line := range bytes.Split(body, []byte("\n")) {
		n++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !seen {
			seen = true
			var c struct {
				Object   string            `json:"object"`
				Metadata map[string]string `json:"metadata"`
			}
			if err := json.Unmarshal(line, &c); err != nil || c.Object != "conversation" {
				return nil, nil, badLine(n, "expected a conversation object", nil)
			}
			if err := checkMetadata(c.Metadata); err != nil {
				return nil, nil, badLine(n, "", err)
			}
			meta = c.Metadata
			continue
		}
		if !json.Valid(line) {
			return nil, nil, badLine(n, "expected a JSON item object", nil)
		}
		its, err := decodeItems("item", []json.RawMessage{line})
		if err != nil {
			return nil, nil, badLine(n, "", err)
		}
		if its[0].Type == "item_reference" {
			return nil, nil, badLine(n, "item references cannot be imported", nil)
		}
		its[0].ID = ""
		items = append(items, its[0])
	}
	if !seen {
		return nil, nil, invalid("", "Invalid import: the body is empty; expected a conversation object on line 1.").WithCode("invalid_value")
	}
	return meta, items, nil
}

// badLine is the 400 for a malformed line n of an import, with why, or
// the message of err.
func badLine(n int, why string, err error) error {
	if le, ok := errors.AsType[*llm.Error](err); ok {
		why = le.Message
	}
	return invalid("line", "Invalid import line %d: %s", n, why).WithCode("invalid_value")
}
