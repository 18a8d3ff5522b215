// Package responses is the door for OpenAI's Responses and Conversations
// APIs: it authenticates, decodes and validates the wire format, and
// hands the work to the stateful runtime. It never talks to a provider or
// a database itself.
package responses

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/runtime"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
	"github.com/causeway-ai/causeway/internal/sse"
)

// Handler serves the Responses and Conversations APIs.
type Handler struct {
	GW *gateway.Gateway
	RT *runtime.Runtime
	// MaxBodyBytes caps request bodies (413 above it).
	MaxBodyBytes int64
}

// Routes lists the routes this door serves.
func Routes() []string {
	return []string{
		"POST /v1/responses",
		"GET /v1/responses/{id}",
		"DELETE /v1/responses/{id}",
		"GET /v1/responses/{id}/input_items",
		"POST /v1/responses/{id}/cancel",
		"POST /v1/conversations",
		"GET /v1/conversations/{id}",
		"POST /v1/conversations/{id}",
		"DELETE /v1/conversations/{id}",
		"POST /v1/conversations/{id}/items",
		"GET /v1/conversations/{id}/items",
		"GET /v1/conversations/{id}/items/{item_id}",
		"DELETE /v1/conversations/{id}/items/{item_id}",
	}
}

// Register adds the door's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	handlers := []http.HandlerFunc{
		h.create, h.getResponse, byID(h, h.RT.DeleteResponse), paged(h, h.RT.InputItems), byID(h, h.RT.Cancel),
		h.createConversation, byID(h, h.RT.GetConversation), h.updateConversation, byID(h, h.RT.DeleteConversation),
		h.addItems, paged(h, h.RT.Items), byItem(h, h.RT.Item), byItem(h, h.RT.DeleteItem),
	}
	for i, route := range Routes() {
		mux.HandleFunc(route, handlers[i])
	}
	for i, route := range ExportRoutes() {
		mux.HandleFunc(route, h.exportHandlers()[i])
	}
	for i, route := range CostRoutes() {
		mux.HandleFunc(route, h.costHandlers()[i])
	}
	for i, route := range CompactRoutes() {
		mux.HandleFunc(route, h.compactHandlers()[i])
	}
}

func (h *Handler) principal(w http.ResponseWriter, r *http.Request) *identity.Principal {
	return openai.Authenticate(h.GW, w, r)
}

// byID serves a route about one of the caller's objects, named by the
// path's {id}: authenticate, ask the runtime, answer.
func byID[T any](h *Handler, fn func(context.Context, *identity.Principal, string) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p := h.principal(w, r); p != nil {
			v, err := fn(r.Context(), p, r.PathValue("id"))
			reply(w, v, err)
		}
	}
}

// byItem is byID for an item of a conversation ({id} and {item_id}).
func byItem[T any](h *Handler, fn func(context.Context, *identity.Principal, string, string) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p := h.principal(w, r); p != nil {
			v, err := fn(r.Context(), p, r.PathValue("id"), r.PathValue("item_id"))
			reply(w, v, err)
		}
	}
}

// listed serves a cursor page of the caller's objects (see page).
func listed(h *Handler, fn func(context.Context, *identity.Principal, runtime.Page) (*wire.List, error)) http.HandlerFunc {
	return paged(h, func(ctx context.Context, p *identity.Principal, _ string, pg runtime.Page) (*wire.List, error) {
		return fn(ctx, p, pg)
	})
}

// paged serves a cursor page of an object's items (see page).
func paged(h *Handler, fn func(context.Context, *identity.Principal, string, runtime.Page) (*wire.List, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := h.principal(w, r)
		if p == nil {
			return
		}
		pg, err := page(r)
		if err != nil {
			openai.WriteError(w, err)
			return
		}
		l, err := fn(r.Context(), p, r.PathValue("id"), pg)
		reply(w, l, err)
	}
}

// withBody authenticates and reads the bounded body, answering the
// client itself (and returning nil) when either fails.
func (h *Handler) withBody(w http.ResponseWriter, r *http.Request) (*identity.Principal, []byte) {
	p := h.principal(w, r)
	if p == nil {
		return nil, nil
	}
	body, err := gateway.ReadBody(w, r, h.MaxBodyBytes)
	if err != nil {
		openai.WriteError(w, err)
		return nil, nil
	}
	return p, body
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// reply writes v, or err in OpenAI's shape.
func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	writeJSON(w, v)
}

// sseWriter sends stream events, writing the headers with the first.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	buf     []byte
}

func newSSE(w http.ResponseWriter) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

func (s *sseWriter) open() {
	if !s.started {
		s.started = true
		hd := s.w.Header()
		hd.Set("Content-Type", "text/event-stream")
		hd.Set("Cache-Control", "no-cache")
		hd.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
	}
}

func (s *sseWriter) emit(typ string, data []byte) error {
	s.open()
	s.buf = sse.AppendEvent(s.buf[:0], typ, data)
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	p, body := h.withBody(w, r)
	if p == nil {
		return
	}
	cp, err := DecodeCreate(body)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	gateway.SetModel(r.Context(), cp.Req.Model, cp.Req.Stream)
	if !cp.Req.Stream {
		resp, err := h.RT.Create(r.Context(), p, cp, nil)
		reply(w, resp, err)
		return
	}
	s := newSSE(w)
	_, err = h.RT.Create(r.Context(), p, cp, s.emit)
	if err != nil && !s.started {
		openai.WriteError(w, err)
	}
}

func (h *Handler) getResponse(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	id := r.PathValue("id")
	q := r.URL.Query()
	if !wantsStream(w, r, h.MaxBodyBytes) {
		body, err := h.RT.GetResponse(r.Context(), p, id)
		reply(w, body, err)
		return
	}
	after := int64(-1)
	if s := q.Get("starting_after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			openai.WriteError(w, invalid("starting_after", "Invalid 'starting_after': expected a non-negative integer."))
			return
		}
		after = n
	}
	s := newSSE(w)
	ok, err := h.RT.FollowEvents(r.Context(), p, id, after, s.emit)
	switch {
	case s.started:
	case err != nil:
		openai.WriteError(w, err)
	case !ok:
		openai.WriteError(w, invalid("stream", "This response was not streamed, so it cannot be replayed as a stream."))
	default:
		s.open()
	}
}

// wantsStream reports whether a GET asks for the stored stream: with
// ?stream=true as the API documents, or with {"stream":true} in a body as
// the Go SDK's GetStreaming sends it.
func wantsStream(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if r.URL.Query().Get("stream") == "true" {
		return true
	}
	if r.ContentLength == 0 || r.Body == nil {
		return false
	}
	body, err := gateway.ReadBody(w, r, limit)
	if err != nil || len(body) == 0 {
		return false
	}
	var v struct {
		Stream bool `json:"stream"`
	}
	return json.Unmarshal(body, &v) == nil && v.Stream
}

// page reads after, limit (default 20, at most 100) and order (default
// desc).
func page(r *http.Request) (runtime.Page, error) {
	q := r.URL.Query()
	pg := runtime.Page{After: q.Get("after"), Limit: 20}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return pg, invalid("limit", "Invalid 'limit': expected an integer between 1 and 100.").WithCode("invalid_value")
		}
		pg.Limit = n
	}
	switch q.Get("order") {
	case "", "desc":
	case "asc":
		pg.Asc = true
	default:
		return pg, invalid("order", "Invalid value: '%s'. Supported values are: 'asc' and 'desc'.", q.Get("order")).WithCode("invalid_value")
	}
	return pg, nil
}

func (h *Handler) createConversation(w http.ResponseWriter, r *http.Request) {
	p, body := h.withBody(w, r)
	if p == nil {
		return
	}
	var req wire.ConversationCreate
	if len(body) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			openai.WriteError(w, err)
			return
		}
	}
	if err := checkMetadata(req.Metadata); err != nil {
		openai.WriteError(w, err)
		return
	}
	items, err := DecodeItems(req.Items)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	c, err := h.RT.CreateConversation(r.Context(), p, items, req.Metadata)
	reply(w, c, err)
}

func (h *Handler) updateConversation(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	var req wire.ConversationUpdate
	if !h.readJSON(w, r, &req) {
		return
	}
	if req.Metadata == nil {
		openai.WriteError(w, invalid("metadata", "Missing required parameter: 'metadata'.").WithCode("missing_required_parameter"))
		return
	}
	if err := checkMetadata(req.Metadata); err != nil {
		openai.WriteError(w, err)
		return
	}
	c, err := h.RT.UpdateConversation(r.Context(), p, r.PathValue("id"), req.Metadata)
	reply(w, c, err)
}

func (h *Handler) addItems(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	var req wire.ItemsCreate
	if !h.readJSON(w, r, &req) {
		return
	}
	if len(req.Items) == 0 {
		openai.WriteError(w, invalid("items", "Missing required parameter: 'items'.").WithCode("missing_required_parameter"))
		return
	}
	items, err := DecodeItems(req.Items)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	l, err := h.RT.AddItems(r.Context(), p, r.PathValue("id"), items)
	reply(w, l, err)
}

// readJSON reads a bounded body into v, answering the client itself (and
// reporting false) when it cannot.
func (h *Handler) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := gateway.ReadBody(w, r, h.MaxBodyBytes)
	if err == nil {
		err = decodeJSON(body, v)
	}
	if err != nil {
		openai.WriteError(w, err)
		return false
	}
	return true
}
