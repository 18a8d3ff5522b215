package anthropic

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/anthropic"
)

// Handler serves the Anthropic Messages API.
type Handler struct {
	GW *gateway.Gateway
	// MaxBodyBytes caps request bodies (413 above it).
	MaxBodyBytes int64
}

// Register adds the door's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/messages", h.messages)
	mux.HandleFunc("POST /v1/messages/count_tokens", h.countTokens)
}

// Routes lists the inference routes this door serves, for the test that
// proves none bypasses the request path.
func Routes() []string {
	return []string{"POST /v1/messages", "POST /v1/messages/count_tokens"}
}

// credential is the x-api-key header or a bearer token: Anthropic SDKs
// send the former, ANTHROPIC_AUTH_TOKEN (Claude Code) the latter.
func credential(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("X-Api-Key")); k != "" {
		return k
	}
	return gateway.BearerToken(r)
}

func (h *Handler) principal(w http.ResponseWriter, r *http.Request) *identity.Principal {
	cred := credential(r)
	p, err := h.GW.Authenticate(r.Context(), cred)
	if err != nil {
		if llm.KindOf(err) == llm.KindUnauthenticated {
			// Say it the way Anthropic does, naming its headers.
			msg := "invalid x-api-key"
			if cred == "" {
				msg = "x-api-key header is required"
			}
			err = &llm.Error{Kind: llm.KindUnauthenticated, Message: msg, Err: err}
		}
		WriteError(w, err)
		return nil
	}
	return p
}

// decodeRequest authenticates and decodes a request; it writes the error
// and returns nil when there is one.
func (h *Handler) decodeRequest(w http.ResponseWriter, r *http.Request, countOnly bool) (*identity.Principal, *llm.Request) {
	w.Header().Set("Request-Id", gateway.RequestID(r.Context()))
	p := h.principal(w, r)
	if p == nil {
		return nil, nil
	}
	body, err := gateway.ReadBody(w, r, h.MaxBodyBytes)
	if err != nil {
		WriteError(w, err)
		return nil, nil
	}
	req, err := decode(body, countOnly)
	if err != nil {
		WriteError(w, err)
		return nil, nil
	}
	return p, req
}

func (h *Handler) messages(w http.ResponseWriter, r *http.Request) {
	p, req := h.decodeRequest(w, r, false)
	if req == nil {
		return
	}
	if hd := ExtraHeaders(r.Header); hd != nil {
		req.ExtraHeaders = hd
		req.ExtraFamily = Family
	}
	gateway.SetModel(r.Context(), req.Model, req.Stream)
	call, err := h.GW.Chat(r.Context(), p, req)
	if err != nil {
		WriteError(w, err)
		return
	}
	id := MessageID(call.ID, gateway.RequestID(r.Context()))
	if req.Stream {
		h.stream(w, call, id)
		return
	}
	col := NewCollector(id, call.Model)
	for {
		ev, err := call.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			call.Finish(nil)
			WriteError(w, err)
			return
		}
		col.Add(&ev)
	}
	resp, err := col.Response()
	if err != nil {
		call.Finish(nil)
		WriteError(w, err)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		call.Finish(nil)
		WriteError(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, werr := w.Write(b)
	call.Finish(werr)
}

func (h *Handler) stream(w http.ResponseWriter, call *gateway.Call, id string) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := &StreamEncoder{ID: id, Model: call.Model}
	buf := enc.Start(make([]byte, 0, 1024))
	for {
		ev, err := call.Next()
		if err == nil {
			buf, err = enc.Encode(buf, &ev)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				buf = enc.End(buf)
			} else {
				buf = StreamError(buf, err)
			}
			_, werr := w.Write(buf)
			if werr == nil {
				werr = rc.Flush()
			}
			call.Finish(werr)
			return
		}
		if len(buf) == 0 || call.Buffered() {
			continue
		}
		if _, werr := w.Write(buf); werr != nil {
			call.Finish(werr)
			return
		}
		if werr := rc.Flush(); werr != nil {
			call.Finish(werr)
			return
		}
		buf = buf[:0]
	}
}

// countTokens answers POST /v1/messages/count_tokens offline. See
// CountTokens for what the number means.
func (h *Handler) countTokens(w http.ResponseWriter, r *http.Request) {
	p, req := h.decodeRequest(w, r, true)
	if req == nil {
		return
	}
	gateway.SetModel(r.Context(), req.Model, false)
	if _, err := h.GW.Alias(p, req.Model); err != nil {
		WriteError(w, err)
		return
	}
	n, err := CountTokens(req)
	if err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, &wire.CountTokensResponse{InputTokens: n})
}

func itoa(n int) string { return strconv.Itoa(n) }
