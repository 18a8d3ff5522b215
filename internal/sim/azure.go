package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	oai "github.com/causeway-ai/causeway/internal/schema/openai"
)

// This file speaks Azure OpenAI: OpenAI's chat completions and embeddings
// under Azure's routes, api-version checks, api-key or Entra bearer
// authentication, Azure's error bodies, and the content filter verdicts
// Azure adds to answers and chunks.
//
//	POST /openai/deployments/{deployment}/chat/completions?api-version=V
//	POST /openai/deployments/{deployment}/embeddings?api-version=V
//	POST /openai/v1/chat/completions    ("model" is the deployment)
//	POST /openai/v1/embeddings
//
// The deployment is the model name of stats and faults. A deployment route
// without api-version answers 404 {"error":{"code":"404","message":
// "Resource not found"}}; with a version the simulator does not know, or
// a dated version on the v1 routes (which take none, "preview" or "v1"),
// 400 {"error":{"code":"BadRequest","message":"API version not
// supported"}}. stream_options is refused before 2024-09-01-preview, as
// Azure did. When Options.APIKey is set, requests need "api-key: <key>" or
// "Authorization: Bearer <key>" (401 in Azure's shape otherwise).
//
// Answers are the OpenAI protocol's, plus prompt_filter_results (a whole
// answer's field; a stream's first chunk, which has no id, model or
// choices, as Azure sends it) and each choice's content_filter_results.
// A last user message containing azureFilterTrigger is refused with
// Azure's content-filter 400 (code "content_filter").

func init() {
	protocols = append(protocols, func(s *Sim, m *http.ServeMux) {
		m.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.azureAuth(s.azureChat))
		m.HandleFunc("POST /openai/deployments/{deployment}/embeddings", s.azureAuth(s.azureEmbeddings))
		m.HandleFunc("POST /openai/v1/chat/completions", s.azureAuth(s.azureChat))
		m.HandleFunc("POST /openai/v1/embeddings", s.azureAuth(s.azureEmbeddings))
		m.HandleFunc("/openai/", s.azureNotFound)
	})
}

// azureFilterTrigger in the last user message makes the content filter
// refuse the prompt.
const azureFilterTrigger = "causeway-sim-filter"

// azureVersions are the dated api-versions the simulator accepts.
var azureVersions = map[string]bool{
	"2022-12-01": true, "2023-05-15": true, "2024-02-01": true, "2024-06-01": true, "2024-10-21": true,
	"2024-02-15-preview": true, "2024-03-01-preview": true, "2024-04-01-preview": true,
	"2024-05-01-preview": true, "2024-07-01-preview": true, "2024-08-01-preview": true,
	"2024-09-01-preview": true, "2024-10-01-preview": true, "2024-12-01-preview": true,
	"2025-01-01-preview": true, "2025-02-01-preview": true, "2025-03-01-preview": true,
	"2025-04-01-preview": true,
}

// azureStreamOptionsSince is the first api-version that takes
// stream_options.
const azureStreamOptionsSince = "2024-09-01"

// Filter verdicts, as Azure's default policy reports a harmless prompt and
// completion.
var (
	azurePromptFilter = json.RawMessage(`[{"prompt_index":0,"content_filter_results":{` +
		`"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},` +
		`"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},` +
		`"violence":{"filtered":false,"severity":"safe"}}}]`)
	azureContentFilter = json.RawMessage(`{"hate":{"filtered":false,"severity":"safe"},` +
		`"protected_material_code":{"filtered":false,"detected":false},` +
		`"protected_material_text":{"filtered":false,"detected":false},` +
		`"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},` +
		`"violence":{"filtered":false,"severity":"safe"}}`)
	azureEmptyFilter = json.RawMessage(`{}`)
	// azureFirstChunk opens every stream.
	azureFirstChunk = []byte(`data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":` +
		string(azurePromptFilter) + "}\n\n")
)

// azureResponse is a chat.completion with Azure's filter results.
type azureResponse struct {
	oai.ChatResponse
	Choices             []azureChoice   `json:"choices"`
	PromptFilterResults json.RawMessage `json:"prompt_filter_results"`
}

type azureChoice struct {
	oai.Choice
	ContentFilterResults json.RawMessage `json:"content_filter_results"`
}

// azureChunk is a chat.completion.chunk with Azure's filter results.
type azureChunk struct {
	oai.ChatChunk
	Choices []azureChunkChoice `json:"choices"`
}

type azureChunkChoice struct {
	oai.ChunkChoice
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
}

// writeAzureError writes Azure's own error envelope {"error":{"code",
// "message"}}, used for errors Azure raises before the model (routing,
// authentication, versions, rate limits).
func writeAzureError(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": msg}})
	writeJSON(w, status, body)
}

func (s *Sim) azureNotFound(w http.ResponseWriter, r *http.Request) {
	writeAzureError(w, http.StatusNotFound, "404", "Resource not found")
}

// azureAuth requires the API key as api-key or as an Entra bearer token,
// when one is set.
func (s *Sim) azureAuth(h http.HandlerFunc) http.HandlerFunc {
	if s.bearer == "" {
		return h
	}
	key := []byte(strings.TrimPrefix(s.bearer, "Bearer "))
	bearer := []byte(s.bearer)
	return func(w http.ResponseWriter, r *http.Request) {
		ok := false
		if k := r.Header.Get("Api-Key"); k != "" {
			ok = subtle.ConstantTimeCompare([]byte(k), key) == 1
		} else if a := r.Header.Get("Authorization"); a != "" {
			ok = subtle.ConstantTimeCompare([]byte(a), bearer) == 1
		}
		if !ok {
			writeAzureError(w, http.StatusUnauthorized, "401", "Access denied due to invalid subscription key or wrong API endpoint. "+
				"Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
			return
		}
		h(w, r)
	}
}

// azureVersion checks the api-version of r and returns it ("" on the v1
// routes without one); it has answered when ok is false.
func azureVersion(w http.ResponseWriter, r *http.Request) (version string, ok bool) {
	q := r.URL.Query()
	v := q.Get("api-version")
	if r.PathValue("deployment") == "" {
		// The v1 surface takes no dated version.
		if v == "" || v == "preview" || v == "v1" {
			return v, true
		}
		writeAzureError(w, http.StatusBadRequest, "BadRequest", "API version not supported")
		return "", false
	}
	if !q.Has("api-version") {
		writeAzureError(w, http.StatusNotFound, "404", "Resource not found")
		return "", false
	}
	if !azureVersions[v] {
		writeAzureError(w, http.StatusBadRequest, "BadRequest", "API version not supported")
		return "", false
	}
	return v, true
}

// writeAzureFault answers with the fault's status in Azure's shape.
func writeAzureFault(w http.ResponseWriter, f *Fault, operation, version string) {
	code, msg := strconv.Itoa(f.Status), "Simulated error."
	switch s := f.Status; {
	case s == http.StatusUnauthorized:
		msg = "Access denied due to invalid subscription key or wrong API endpoint."
	case s == http.StatusNotFound:
		code, msg = "DeploymentNotFound", "The API deployment for this resource does not exist."
	case s == http.StatusTooManyRequests:
		after := max(f.RetryAfterS, 1)
		msg = "Requests to the " + operation + " Operation under Azure OpenAI API version " + version +
			" have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after " +
			strconv.Itoa(after) + " seconds."
	case s >= 500:
		code, msg = "InternalServerError", "The server had an error while processing your request. Sorry about that!"
	}
	if f.Message != "" {
		msg = f.Message
	}
	if f.RetryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterS))
		w.Header().Set("Retry-After-Ms", strconv.Itoa(f.RetryAfterS*1000))
	}
	w.Header().Set("X-Sim-Fault", f.ID)
	writeAzureError(w, f.Status, code, msg)
}

// writeAzureFiltered answers as Azure's content filter does when it
// refuses a prompt.
func writeAzureFiltered(w http.ResponseWriter) {
	body := []byte(`{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. ` +
		`Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: ` +
		`https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,` +
		`"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{` +
		`"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},` +
		`"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},` +
		`"violence":{"filtered":true,"severity":"medium"}}}}}`)
	writeJSON(w, http.StatusBadRequest, body)
}

func (s *Sim) azureChat(w http.ResponseWriter, r *http.Request) {
	version, ok := azureVersion(w, r)
	if !ok {
		return
	}
	var req oai.ChatRequest
	if e := readOpenAIBody(w, r, &req); e != nil {
		e.write(w)
		return
	}
	if d := r.PathValue("deployment"); d != "" {
		// The path names the deployment; a "model" in the body is ignored.
		req.Model = d
	}
	if req.StreamOptions != nil && version != "" && version[:min(len(version), 10)] < azureStreamOptionsSince {
		invalid("", "", "Unrecognized request argument supplied: stream_options").write(w)
		return
	}
	var p prompt
	if e := openAIPrompt(&req, &p); e != nil {
		e.write(w)
		return
	}
	if strings.Contains(p.lastUser, azureFilterTrigger) {
		writeAzureFiltered(w)
		return
	}
	c := s.begin(req.Model)
	if !c.stall(r.Context()) {
		return
	}
	if c.fault != nil && c.fault.Status != 0 {
		writeAzureFault(w, c.fault, "ChatCompletions_Create", version)
		return
	}
	a := plan(&p)
	if req.Stream {
		s.azureStream(w, r, &req, &a, c)
		return
	}
	s.azureWhole(w, r, &req, &a, c)
}

// azureWhole answers with one chat.completion object.
func (s *Sim) azureWhole(w http.ResponseWriter, r *http.Request, req *oai.ChatRequest, a *answer, c call) {
	ttft, itl := s.Latency()
	if !sleep(r.Context(), ttft+itl*time.Duration(a.outputTokens)) {
		return
	}
	msg := oai.ResponseMessage{Role: "assistant"}
	filter := azureContentFilter
	if len(a.calls) > 0 {
		msg.ToolCalls = make([]oai.ToolCall, len(a.calls))
		for i, tc := range a.calls {
			msg.ToolCalls[i] = oai.ToolCall{ID: tc.id, Type: "function",
				Function: oai.FunctionCall{Name: tc.name, Arguments: tc.args}}
		}
		filter = azureEmptyFilter
	} else {
		text := a.text()
		msg.Content = &text
	}
	resp := azureResponse{
		ChatResponse: oai.ChatResponse{
			ID:                s.newID("chatcmpl-"),
			Object:            "chat.completion",
			Created:           time.Now().Unix(),
			Model:             req.Model,
			Usage:             openAIUsage(a),
			SystemFingerprint: openAIFingerprint,
		},
		Choices:             []azureChoice{{Choice: oai.Choice{Message: msg, FinishReason: openAIFinish(a.finish)}, ContentFilterResults: filter}},
		PromptFilterResults: azurePromptFilter,
	}
	body, err := json.Marshal(&resp)
	if err != nil {
		writeAzureError(w, http.StatusInternalServerError, "InternalServerError", "simulator: "+err.Error())
		return
	}
	c.writeWhole(w, body, openAIGarbageBody, a.inputTokens, a.outputTokens)
}

// azureStream answers with Azure's chunks: the prompt filter results, the
// role, one event per token (or tool call header and argument fragment)
// with its filter results, the finish reason, the usage when asked for,
// and [DONE].
func (s *Sim) azureStream(w http.ResponseWriter, r *http.Request, req *oai.ChatRequest, a *answer, c call) {
	ctx := r.Context()
	ttft, itl := s.Latency()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	e := newSSE(w, c, openAIGarbage)
	defer e.release()
	base := azureChunk{ChatChunk: oai.ChatChunk{
		ID:                s.newID("chatcmpl-"),
		Object:            "chat.completion.chunk",
		Created:           time.Now().Unix(),
		Model:             req.Model,
		SystemFingerprint: openAIFingerprint,
	}}
	e.buf = append(e.buf, azureFirstChunk...)
	if !e.send() {
		return
	}

	if len(a.calls) == 0 {
		empty := ""
		if !sendAzureChunk(e, &base, oai.ChunkChoice{Delta: oai.Delta{Role: "assistant", Content: &empty}}, azureEmptyFilter) {
			return
		}
		if !sleep(ctx, ttft) {
			return
		}
		prefix, suffix := azureTemplate(&base, oai.Delta{Content: &sentinel}, azureContentFilter)
		for i, tok := range a.tokens {
			if i > 0 && !sleep(ctx, itl) {
				return
			}
			e.buf = append(e.buf, prefix...)
			e.buf = appendEscaped(e.buf, tok)
			e.buf = append(e.buf, suffix...)
			if !e.send() {
				return
			}
		}
	} else {
		if !sleep(ctx, ttft) {
			return
		}
		for i, tc := range a.calls {
			if i > 0 && !sleep(ctx, itl) {
				return
			}
			idx := i
			d := oai.Delta{ToolCalls: []oai.ToolCall{{Index: &idx, ID: tc.id, Type: "function",
				Function: oai.FunctionCall{Name: tc.name}}}}
			if i == 0 {
				d.Role = "assistant"
			}
			if !sendAzureChunk(e, &base, oai.ChunkChoice{Delta: d}, azureEmptyFilter) {
				return
			}
			prefix, suffix := azureTemplate(&base, oai.Delta{ToolCalls: []oai.ToolCall{{Index: &idx,
				Function: oai.FunctionCall{Arguments: sentinel}}}}, azureEmptyFilter)
			for _, frag := range tc.fragments {
				if !sleep(ctx, itl) {
					return
				}
				e.buf = append(e.buf, prefix...)
				e.buf = appendEscaped(e.buf, frag)
				e.buf = append(e.buf, suffix...)
				if !e.send() {
					return
				}
			}
		}
	}

	reason := openAIFinish(a.finish)
	if !sendAzureChunk(e, &base, oai.ChunkChoice{FinishReason: &reason}, azureEmptyFilter) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		chunk := base
		chunk.Choices = []azureChunkChoice{}
		chunk.Usage = openAIUsage(a)
		b, _ := json.Marshal(&chunk)
		e.buf = append(e.buf, "data: "...)
		e.buf = append(e.buf, b...)
		e.buf = append(e.buf, "\n\n"...)
		if !e.send() {
			return
		}
	}
	if !e.end() {
		return
	}
	c.complete(a.inputTokens, a.outputTokens)
	e.write(openAIDone)
}

// azureTemplate is chunkTemplate for Azure's chunks.
func azureTemplate(base *azureChunk, delta oai.Delta, filter json.RawMessage) (prefix, suffix []byte) {
	chunk := *base
	chunk.Choices = []azureChunkChoice{{ChunkChoice: oai.ChunkChoice{Delta: delta}, ContentFilterResults: filter}}
	b, _ := json.Marshal(&chunk)
	i := bytes.LastIndex(b, []byte(`"\u0000"`))
	prefix = append([]byte("data: "), b[:i+1]...)
	suffix = append(b[i+7:], "\n\n"...)
	return prefix, suffix
}

func sendAzureChunk(e *sse, base *azureChunk, choice oai.ChunkChoice, filter json.RawMessage) bool {
	chunk := *base
	chunk.Choices = []azureChunkChoice{{ChunkChoice: choice, ContentFilterResults: filter}}
	b, _ := json.Marshal(&chunk)
	e.buf = append(e.buf, "data: "...)
	e.buf = append(e.buf, b...)
	e.buf = append(e.buf, "\n\n"...)
	return e.send()
}

func (s *Sim) azureEmbeddings(w http.ResponseWriter, r *http.Request) {
	version, ok := azureVersion(w, r)
	if !ok {
		return
	}
	var req oai.EmbeddingRequest
	if e := readOpenAIBody(w, r, &req); e != nil {
		e.write(w)
		return
	}
	if d := r.PathValue("deployment"); d != "" {
		req.Model = d
	}
	inputs, words, dims, b64, e := embeddingParams(&req)
	if e != nil {
		e.write(w)
		return
	}

	c := s.begin(req.Model)
	if !c.stall(r.Context()) {
		return
	}
	if c.fault != nil && c.fault.Status != 0 {
		writeAzureFault(w, c.fault, "Embeddings_Create", version)
		return
	}
	ttft, _ := s.Latency()
	if !sleep(r.Context(), ttft) {
		return
	}
	body := s.openAIEmbeddingBody(&req, inputs, words, dims, b64)
	c.writeWhole(w, body, openAIGarbageBody, words, 0)
}
