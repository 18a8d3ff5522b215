package openai

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
)

// Handler serves the OpenAI-compatible API.
type Handler struct {
	GW *gateway.Gateway
	// MaxBodyBytes caps request bodies (413 above it).
	MaxBodyBytes int64
}

// Register adds the door's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/chat/completions", h.chat)
	mux.HandleFunc("POST /v1/embeddings", h.embeddings)
	mux.HandleFunc("GET /v1/models", h.models)
	mux.HandleFunc("GET /v1/models/{id...}", h.model)
}

// Routes lists the inference routes this door serves, for the test that
// proves none bypasses the request path.
func Routes() []string {
	return []string{"POST /v1/chat/completions", "POST /v1/embeddings", "GET /v1/models", "GET /v1/models/{id...}"}
}

func (h *Handler) principal(w http.ResponseWriter, r *http.Request) *identity.Principal {
	return Authenticate(h.GW, w, r)
}

// Authenticate returns the principal of the request's bearer key, or
// answers the client with OpenAI's 401 and returns nil. The other
// OpenAI-shaped doors (responses, memories) authenticate through it.
func Authenticate(gw *gateway.Gateway, w http.ResponseWriter, r *http.Request) *identity.Principal {
	p, err := gw.Authenticate(r.Context(), gateway.BearerToken(r))
	if err != nil {
		WriteError(w, err)
		return nil
	}
	return p
}

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	body, err := gateway.ReadBody(w, r, h.MaxBodyBytes)
	if err != nil {
		WriteError(w, err)
		return
	}
	req, opts, err := DecodeChatRequest(body)
	if err != nil {
		WriteError(w, err)
		return
	}
	gateway.SetModel(r.Context(), req.Model, req.Stream)
	call, err := h.GW.Chat(r.Context(), p, req)
	if err != nil {
		WriteError(w, err)
		return
	}
	if req.Stream {
		h.stream(w, call, opts)
		return
	}
	col := NewCollector(call.ID, call.Model, call.Created)
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
	resp := col.Response()
	if call.Fingerprint != "" {
		resp.SystemFingerprint = call.Fingerprint
	}
	b, err := json.Marshal(resp)
	if err != nil {
		call.Finish(nil)
		WriteError(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", itoa(int64(len(b))))
	w.WriteHeader(http.StatusOK)
	_, werr := w.Write(b)
	call.Finish(werr)
}

func (h *Handler) stream(w http.ResponseWriter, call *gateway.Call, opts ChatOptions) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := &ChunkEncoder{ID: call.ID, Model: call.Model, Created: call.Created, Fingerprint: call.Fingerprint, IncludeUsage: opts.IncludeUsage}
	buf := make([]byte, 0, 1024)
	for {
		ev, err := call.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				buf = Done(buf)
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
		buf = enc.Encode(buf, &ev)
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

func (h *Handler) embeddings(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	body, err := gateway.ReadBody(w, r, h.MaxBodyBytes)
	if err != nil {
		WriteError(w, err)
		return
	}
	req, err := DecodeEmbeddingRequest(body)
	if err != nil {
		WriteError(w, err)
		return
	}
	gateway.SetModel(r.Context(), req.Model, false)
	resp, err := h.GW.Embed(r.Context(), p, req)
	if err != nil {
		WriteError(w, err)
		return
	}
	out := wire.EmbeddingResponse{Object: "list", Model: resp.Model, Data: make([]wire.Embedding, len(resp.Vectors)),
		Usage: wire.EmbeddingUsage{PromptTokens: resp.Usage.InputTokens, TotalTokens: resp.Usage.InputTokens}}
	for i, v := range resp.Vectors {
		out.Data[i] = wire.Embedding{Object: "embedding", Index: i, Embedding: encodeVector(v, req.EncodingFormat == "base64")}
	}
	writeJSON(w, http.StatusOK, &out)
}

func encodeVector(v []float32, b64 bool) json.RawMessage {
	if b64 {
		raw := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
		s := base64.StdEncoding.EncodeToString(raw)
		return json.RawMessage(strconv.Quote(s))
	}
	b := make([]byte, 0, 12*len(v)+2)
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	return append(b, ']')
}

// DecodeEmbeddingRequest decodes and validates an Embeddings body.
func DecodeEmbeddingRequest(body []byte) (*llm.EmbeddingRequest, error) {
	var w wire.EmbeddingRequest
	if err := json.Unmarshal(body, &w); err != nil {
		if _, ok := err.(*json.SyntaxError); ok {
			return nil, invalid("", "We could not parse the JSON body of your request.").WithCode("invalid_json")
		}
		return nil, typeError(err)
	}
	if w.Model == "" {
		return nil, invalid("model", "you must provide a model parameter").WithCode("missing_required_parameter")
	}
	if wire.IsNull(w.Input) {
		return nil, invalid("input", "Missing required parameter: 'input'.").WithCode("missing_required_parameter")
	}
	req := &llm.EmbeddingRequest{Model: w.Model, User: w.User, EncodingFormat: w.EncodingFormat}
	switch w.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, invalid("encoding_format", "Invalid value: '%s'. Supported values are: 'float' and 'base64'.", w.EncodingFormat).WithCode("invalid_value")
	}
	if w.Dimensions != nil {
		if *w.Dimensions < 1 {
			return nil, invalid("dimensions", "Invalid 'dimensions': expected a value >= 1.")
		}
		req.Dimensions = *w.Dimensions
	}
	s, _, isString, err := wire.StringOrParts(w.Input)
	switch {
	case isString && err == nil:
		req.Input = []string{s}
	default:
		var arr []string
		if err := json.Unmarshal(w.Input, &arr); err != nil {
			return nil, invalid("input", "Invalid 'input': expected a string or an array of strings (token-id arrays are not supported by this gateway).").WithCode("invalid_type")
		}
		req.Input = arr
	}
	if len(req.Input) == 0 || len(req.Input) > 2048 {
		return nil, invalid("input", "Invalid 'input': expected between 1 and 2048 inputs, got %d.", len(req.Input))
	}
	for i, s := range req.Input {
		if s == "" {
			return nil, invalid("input", "Invalid 'input[%d]': empty string.", i)
		}
	}
	return req, nil
}

func (h *Handler) models(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	list := wire.ModelList{Object: "list", Data: []wire.Model{}}
	for _, a := range h.GW.Aliases(p) {
		list.Data = append(list.Data, wire.Model{ID: a.Name, Object: "model", Created: a.Created, OwnedBy: "causeway"})
	}
	writeJSON(w, http.StatusOK, &list)
}

func (h *Handler) model(w http.ResponseWriter, r *http.Request) {
	p := h.principal(w, r)
	if p == nil {
		return
	}
	a, err := h.GW.Alias(p, r.PathValue("id"))
	if err != nil {
		if llm.KindOf(err) == llm.KindPermission {
			// Do not reveal models the key may not use.
			err = (&llm.Error{Kind: llm.KindNotFound, Param: "model", Message: "The model `" + r.PathValue("id") + "` does not exist or you do not have access to it."}).WithCode("model_not_found")
		}
		WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, &wire.Model{ID: a.Name, Object: "model", Created: a.Created, OwnedBy: "causeway"})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
