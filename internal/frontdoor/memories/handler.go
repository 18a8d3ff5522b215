// Package memories is the door for /v1/memories, Causeway's long-term
// memory API: it authenticates, decodes the JSON and query parameters,
// and hands the work to the memory service. It never talks to a provider
// or a database itself, and answers errors in OpenAI's shape.
package memories

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/runtime"
)

// Handler serves the memories API.
type Handler struct {
	GW  *gateway.Gateway
	Svc *memory.Service
	// MaxBodyBytes caps request bodies (413 above it).
	MaxBodyBytes int64
}

// Routes lists the routes this door serves.
func Routes() []string {
	return []string{
		"POST /v1/memories",
		"GET /v1/memories",
		"DELETE /v1/memories",
		"POST /v1/memories/search",
		"GET /v1/memories/{id}",
		"PATCH /v1/memories/{id}",
		"POST /v1/memories/{id}",
		"DELETE /v1/memories/{id}",
	}
}

// Register adds the door's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	handlers := []http.HandlerFunc{
		h.create, h.list, h.deleteNamespace, h.search,
		h.get, h.update, h.update, h.delete,
	}
	for i, route := range Routes() {
		mux.HandleFunc(route, handlers[i])
	}
}

func (h *Handler) principal(w http.ResponseWriter, r *http.Request) *identity.Principal {
	return openai.Authenticate(h.GW, w, r)
}

func invalid(param, code, msg string) error {
	return (&llm.Error{Kind: llm.KindInvalid, Param: param, Message: msg}).WithCode(code)
}

// decode reads a JSON object body into v, refusing unknown fields so that
// a misspelt field is an error rather than silently ignored.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := gateway.ReadBody(w, r, h.MaxBodyBytes)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return invalid(te.Field, "invalid_type", "Invalid type for '"+te.Field+"': expected "+te.Type.String()+", but got "+te.Value+".")
		}
		if _, ok := errors.AsType[*json.SyntaxError](err); ok || len(body) == 0 {
			return invalid("", "invalid_json", "We could not parse the JSON body of your request.")
		}
		return invalid("", "invalid_json", "Invalid body: "+err.Error()+".")
	}
	return nil
}

func write(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	var cp memory.CreateParams
	if err := h.decode(w, r, &cp); err != nil {
		openai.WriteError(w, err)
		return
	}
	rec, err := h.Svc.Create(r.Context(), p, runtime.OwnerOf(p), cp)
	write(w, http.StatusCreated, rec, err)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	q := r.URL.Query()
	lp := memory.ListParams{Namespace: q.Get("namespace"), After: q.Get("after")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > memory.MaxListLimit {
			openai.WriteError(w, invalid("limit", "invalid_value", "Invalid 'limit': expected an integer between 1 and "+strconv.Itoa(memory.MaxListLimit)+"."))
			return
		}
		lp.Limit = n
	}
	switch q.Get("order") {
	case "", "desc":
	case "asc":
		lp.Asc = true
	default:
		openai.WriteError(w, invalid("order", "invalid_value", "Invalid value: '"+q.Get("order")+"'. Supported values are: 'asc' and 'desc'."))
		return
	}
	pg, err := h.Svc.List(r.Context(), runtime.OwnerOf(p), lp)
	write(w, http.StatusOK, pg, err)
}

func (h *Handler) deleteNamespace(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	d, err := h.Svc.DeleteNamespace(r.Context(), runtime.OwnerOf(p), r.URL.Query().Get("namespace"))
	write(w, http.StatusOK, d, err)
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	var sp memory.SearchParams
	if err := h.decode(w, r, &sp); err != nil {
		openai.WriteError(w, err)
		return
	}
	res, err := h.Svc.Search(r.Context(), p, runtime.OwnerOf(p), sp)
	write(w, http.StatusOK, res, err)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	rec, err := h.Svc.Get(r.Context(), runtime.OwnerOf(p), r.PathValue("id"))
	write(w, http.StatusOK, rec, err)
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	var up memory.UpdateParams
	if err := h.decode(w, r, &up); err != nil {
		openai.WriteError(w, err)
		return
	}
	rec, err := h.Svc.Update(r.Context(), p, runtime.OwnerOf(p), r.PathValue("id"), up)
	write(w, http.StatusOK, rec, err)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	d, err := h.Svc.Delete(r.Context(), runtime.OwnerOf(p), r.PathValue("id"))
	write(w, http.StatusOK, d, err)
}
