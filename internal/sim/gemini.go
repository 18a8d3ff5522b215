package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	gem "github.com/causeway-ai/causeway/internal/schema/gemini"
)

// This file speaks Google's Gemini API (v1beta) and the same bodies on
// Vertex AI's publisher-model paths:
//
//	POST /v1beta/models/{model}:generateContent
//	POST /v1beta/models/{model}:streamGenerateContent?alt=sse
//	POST /v1beta/models/{model}:embedContent
//	POST /v1beta/models/{model}:batchEmbedContents
//	POST /v1beta/models/{model}:countTokens
//	GET  /v1beta/models, GET /v1beta/models/{model}
//	POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent (and :streamGenerateContent)
//
// With Options.APIKey set, the Gemini API routes require it in the
// x-goog-api-key header or the key query parameter, and the Vertex routes
// require "Authorization: Bearer <APIKey>".
//
// Prompt tokens count as for OpenAI: Σ over the system instruction and each
// content of 4 + the words of its text parts, function call names and
// arguments, and function responses. A conversation whose last content
// holds function responses is answered "The tool returned: <result>." where
// <result> is the response's "result" (or "output", "content", "error")
// string, else the compact JSON of the response. Function calls carry no
// id (as the Gemini API's do) and are sent whole, all in one event; STOP
// ends them. usageMetadata is in every stream event, with running
// candidatesTokenCount. Embeddings have 3072 dimensions unless
// outputDimensionality says otherwise.
//
// Thinking: when generationConfig.thinkingConfig is present with a
// thinkingBudget other than 0, the model "thinks" 20 to 28 tokens of
// pseudo-text (capped by a positive budget), reported as
// thoughtsTokenCount (outside candidatesTokenCount, as Gemini counts) and
// added to the output tokens of /sim/stats. With includeThoughts the
// thoughts come first as a part with "thought": true (one stream event).
// The first function call of a thinking answer carries a thoughtSignature;
// as Gemini 3 does, a thinking request whose current turn (the contents
// after the last user text) replays a model function call without its
// signature, or with a signature the simulator did not make, is a 400.

func init() {
	protocols = append(protocols, func(s *Sim, m *http.ServeMux) {
		m.HandleFunc("POST /v1beta/models/{action}", s.geminiAuth(s.geminiAction))
		m.HandleFunc("GET /v1beta/models", s.geminiAuth(s.geminiModels))
		m.HandleFunc("GET /v1beta/models/{model}", s.geminiAuth(s.geminiModel))
		m.HandleFunc("POST /v1/projects/{project}/locations/{location}/publishers/google/models/{action}", s.vertexAuth(s.geminiAction))
	})
}

// geminiEmbeddingDims is the vector size when the request sets none
// (gemini-embedding-001's).
const geminiEmbeddingDims = 3072

var (
	geminiGarbage     = []byte("data: {\"candidates\": [{\"content\": <<<simulated malformed chunk>>>\r\n\r\n")
	geminiGarbageBody = []byte("{\"candidates\": [{\"content\": <<<simulated malformed body>>>")
	geminiModelList   = []string{"gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-embedding-001"}
)

// geminiStatus is the google.rpc code name of an HTTP status.
func geminiStatus(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 413:
		return "INVALID_ARGUMENT"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

// writeGeminiError writes {"error":{"code","message","status"}}.
func writeGeminiError(w http.ResponseWriter, code int, msg string, details json.RawMessage) {
	body, _ := json.Marshal(&gem.ErrorBody{Error: gem.ErrorDetail{Code: code, Message: msg, Status: geminiStatus(code), Details: details}})
	writeJSON(w, code, body)
}

func geminiInvalid(w http.ResponseWriter, msg string) {
	writeGeminiError(w, http.StatusBadRequest, msg, nil)
}

// writeGeminiFault answers with the fault's status; a 429 carries the
// delay both in Retry-After and, as Gemini does, in a RetryInfo detail.
func writeGeminiFault(w http.ResponseWriter, f *Fault) {
	msg := "Simulated error."
	switch s := f.Status; {
	case s == http.StatusTooManyRequests:
		msg = "Resource has been exhausted (e.g. check quota)."
	case s == http.StatusServiceUnavailable:
		msg = "The model is overloaded. Please try again later."
	case s >= 500:
		msg = "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
	case s == http.StatusNotFound:
		msg = "models/x is not found for API version v1beta, or is not supported for generateContent."
	}
	if f.Message != "" {
		msg = f.Message
	}
	var details json.RawMessage
	if f.RetryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterS))
		details, _ = json.Marshal([]gem.RetryInfo{{Type: gem.RetryInfoType, RetryDelay: strconv.Itoa(f.RetryAfterS) + "s"}})
	}
	w.Header().Set("X-Sim-Fault", f.ID)
	writeGeminiError(w, f.Status, msg, details)
}

// geminiAuth requires the API key in x-goog-api-key or ?key=, when one is
// set; Gemini answers a missing key 403 and a wrong one 400.
func (s *Sim) geminiAuth(h http.HandlerFunc) http.HandlerFunc {
	if s.bearer == "" {
		return h
	}
	want := []byte(strings.TrimPrefix(s.bearer, "Bearer "))
	return func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("x-goog-api-key")
		if got == "" {
			got = r.URL.Query().Get("key")
		}
		switch {
		case got == "":
			writeGeminiError(w, http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", nil)
		case subtle.ConstantTimeCompare([]byte(got), want) != 1:
			writeGeminiError(w, http.StatusBadRequest, "API key not valid. Please pass a valid API key.", nil)
		default:
			h(w, r)
		}
	}
}

// vertexAuth requires "Authorization: Bearer <APIKey>", when a key is set.
func (s *Sim) vertexAuth(h http.HandlerFunc) http.HandlerFunc {
	if s.bearer == "" {
		return h
	}
	want := []byte(s.bearer)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeGeminiError(w, http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", nil)
			return
		}
		h(w, r)
	}
}

// geminiAction dispatches "{model}:{method}".
func (s *Sim) geminiAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	i := strings.LastIndexByte(action, ':')
	if i <= 0 {
		writeGeminiError(w, http.StatusNotFound, "Invalid path: expected models/{model}:{method}.", nil)
		return
	}
	model, method := action[:i], action[i+1:]
	switch method {
	case "generateContent":
		s.geminiGenerate(w, r, model, false)
	case "streamGenerateContent":
		if r.URL.Query().Get("alt") != "sse" {
			writeGeminiError(w, http.StatusBadRequest, "The simulator streams only with alt=sse.", nil)
			return
		}
		s.geminiGenerate(w, r, model, true)
	case "embedContent", "batchEmbedContents":
		if r.PathValue("project") != "" {
			writeGeminiError(w, http.StatusNotFound, "The simulator does not serve Vertex AI embeddings.", nil)
			return
		}
		s.geminiEmbed(w, r, model, method == "batchEmbedContents")
	case "countTokens":
		s.geminiCountTokens(w, r)
	default:
		writeGeminiError(w, http.StatusNotFound, "Method "+method+" is not found.", nil)
	}
}

// readGeminiBody reads and decodes a JSON body into v, or answers an error.
func readGeminiBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := readBody(w, r)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeGeminiError(w, http.StatusRequestEntityTooLarge, "Request payload size exceeds the limit.", nil)
		} else {
			geminiInvalid(w, "Could not read the request body.")
		}
		return false
	}
	err = json.Unmarshal(body.Bytes(), v)
	putBody(body)
	if err != nil {
		geminiInvalid(w, "Invalid JSON payload received. "+err.Error())
		return false
	}
	return true
}

// upperType matches the OpenAPI-subset type names ("OBJECT", "STRING" …)
// of Gemini's parameters and responseSchema.
var upperType = regexp.MustCompile(`"type"\s*:\s*"[A-Z]+"`)

// lowerTypes rewrites OpenAPI-subset type names as JSON Schema's.
func lowerTypes(raw json.RawMessage) json.RawMessage {
	if !upperType.Match(raw) {
		return raw
	}
	return upperType.ReplaceAllFunc(raw, bytes.ToLower)
}

// geminiResultText is what a function response says.
func geminiResultText(resp json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(resp, &m) == nil && len(m) == 1 {
		for _, k := range []string{"result", "output", "content", "error"} {
			var s string
			if v, ok := m[k]; ok && json.Unmarshal(v, &s) == nil {
				return s
			}
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, resp) != nil {
		return string(resp)
	}
	return b.String()
}

// geminiContentWords hashes a content into h and returns its text (text
// parts joined), its words, and whether it holds only function responses
// (with their texts).
func geminiContentWords(c *gem.Content, h *hasher) (text string, words int, results []string) {
	h.str(c.Role)
	var texts []string
	onlyResponses := len(c.Parts) > 0
	for _, p := range c.Parts {
		switch {
		case p.FunctionCall != nil:
			onlyResponses = false
			h.str(p.FunctionCall.ID)
			h.str(p.FunctionCall.Name)
			h.bytes(p.FunctionCall.Args)
			words += countWords(p.FunctionCall.Name) + countWords(string(p.FunctionCall.Args))
		case p.FunctionResponse != nil:
			t := geminiResultText(p.FunctionResponse.Response)
			h.str(p.FunctionResponse.Name)
			h.str(t)
			words += countWords(p.FunctionResponse.Name) + countWords(t)
			results = append(results, t)
		default:
			onlyResponses = false
			h.str(p.Text)
			if p.InlineData != nil {
				h.str(p.InlineData.MimeType)
				h.str(p.InlineData.Data)
			}
			if p.FileData != nil {
				h.str(p.FileData.FileURI)
			}
			if p.Text != "" {
				texts = append(texts, p.Text)
				words += countWords(p.Text)
			}
		}
	}
	if !onlyResponses {
		results = nil
	}
	return strings.Join(texts, "\n"), words, results
}

// geminiThinking is what a request asks of thinking.
type geminiThinking struct {
	on      bool
	include bool
	budget  int // 0: no cap
}

// geminiSignaturePrefix starts every thought signature the simulator
// makes (before base64).
const geminiSignaturePrefix = "causeway-sim-thought/"

func geminiSignature(model string) string {
	return base64.StdEncoding.EncodeToString([]byte(geminiSignaturePrefix + model))
}

// checkSignatures enforces thought signatures in the current turn.
func checkSignatures(req *gem.GenerateContentRequest) string {
	start := 0
	for i, c := range req.Contents {
		if c.Role == "model" {
			continue
		}
		for _, p := range c.Parts {
			if p.Text != "" {
				start = i + 1
			}
		}
	}
	for i := start; i < len(req.Contents); i++ {
		c := &req.Contents[i]
		if c.Role != "model" {
			continue
		}
		first := true
		for j, p := range c.Parts {
			if sig := p.ThoughtSignature; sig != "" {
				b, err := base64.StdEncoding.DecodeString(sig)
				if err != nil || !bytes.HasPrefix(b, []byte(geminiSignaturePrefix)) {
					return "Corrupted thought signature in contents[" + strconv.Itoa(i) + "].parts[" + strconv.Itoa(j) + "]."
				}
			}
			if p.FunctionCall != nil && first {
				first = false
				if p.ThoughtSignature == "" {
					return "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:" +
						p.FunctionCall.Name + "` , position " + strconv.Itoa(j+1) + ". Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
				}
			}
		}
	}
	return ""
}

// thoughts returns the thinking tokens of an answer to p.
func (t geminiThinking) thoughts(p *prompt) []string {
	if !t.on {
		return nil
	}
	r := rng{s: p.seed ^ 0x7468696e6b696e67}
	tokens := pseudoText(&r)
	if t.budget > 0 && len(tokens) > t.budget {
		tokens = tokens[:t.budget]
	}
	return tokens
}

// geminiPrompt validates req and extracts the prompt; it returns an error
// message for a 400.
func geminiPrompt(model string, req *gem.GenerateContentRequest, p *prompt, think *geminiThinking) string {
	if len(req.Contents) == 0 {
		return "* GenerateContentRequest.contents: contents is not specified"
	}
	h := newHasher()
	h.str(model)
	tokens := 0
	if si := req.SystemInstruction; si != nil {
		_, words, _ := geminiContentWords(si, &h)
		tokens += 4 + words
	}
	for i := range req.Contents {
		c := &req.Contents[i]
		switch c.Role {
		case "", "user", "model":
		default:
			return "Please use a valid role: user, model."
		}
		if len(c.Parts) == 0 {
			return "* GenerateContentRequest.contents[" + strconv.Itoa(i) + "].parts: contents.parts must not be empty."
		}
		text, words, results := geminiContentWords(c, &h)
		tokens += 4 + words
		if c.Role != "model" && results == nil {
			p.lastUser = text
		}
		if i == len(req.Contents)-1 && results != nil {
			p.toolResults = results
		}
	}
	p.inputTokens = tokens
	for _, t := range req.Tools {
		for j, fd := range t.FunctionDeclarations {
			if fd.Name == "" {
				return "* GenerateContentRequest.tools[0].function_declarations[" + strconv.Itoa(j) + "].name: Name cannot be empty."
			}
			params := fd.ParametersJSONSchema
			if len(params) == 0 {
				params = lowerTypes(fd.Parameters)
			} else if len(fd.Parameters) > 0 {
				return "* GenerateContentRequest.tools[0].function_declarations[" + strconv.Itoa(j) + "]: parameters and parametersJsonSchema are mutually exclusive."
			}
			h.str(fd.Name)
			h.bytes(params)
			p.tools = append(p.tools, toolSpec{name: fd.Name, params: params})
		}
	}
	p.parallel = true
	if tc := req.ToolConfig; tc != nil && tc.FunctionCallingConfig != nil {
		fc := tc.FunctionCallingConfig
		h.str(fc.Mode)
		switch fc.Mode {
		case "", "AUTO", "VALIDATED":
			p.toolMode = toolAuto
		case "NONE":
			p.toolMode = toolNone
		case "ANY":
			p.toolMode = toolRequired
			if len(fc.AllowedFunctionNames) == 1 {
				p.toolMode, p.toolName = toolNamed, fc.AllowedFunctionNames[0]
				found := false
				for _, t := range p.tools {
					found = found || t.name == p.toolName
				}
				if !found {
					return "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: function " + p.toolName + " is not declared."
				}
			}
		default:
			return "Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), \"" + fc.Mode + "\""
		}
	}
	if g := req.GenerationConfig; g != nil {
		switch g.ResponseMimeType {
		case "", "text/plain":
		case "application/json":
			p.format = formatJSONObject
			schema := g.ResponseJSONSchema
			if len(schema) == 0 {
				schema = lowerTypes(g.ResponseSchema)
			} else if len(g.ResponseSchema) > 0 {
				return "* GenerateContentRequest.generation_config: responseSchema and responseJsonSchema are mutually exclusive."
			}
			if len(schema) > 0 {
				p.format, p.schema = formatJSONSchema, schema
				h.bytes(schema)
			}
			h.str(g.ResponseMimeType)
		default:
			return "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`."
		}
		if g.MaxOutputTokens != nil {
			if *g.MaxOutputTokens < 1 {
				return "* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive."
			}
			p.maxTokens = *g.MaxOutputTokens
		}
		if len(g.StopSequences) > 5 {
			return "* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences are allowed."
		}
		p.stops = g.StopSequences
		if g.Seed != nil {
			h.u64(uint64(*g.Seed))
		}
		if tc := g.ThinkingConfig; tc != nil && (tc.ThinkingBudget == nil || *tc.ThinkingBudget != 0) {
			think.on, think.include = true, tc.IncludeThoughts
			if tc.ThinkingBudget != nil && *tc.ThinkingBudget > 0 {
				think.budget = *tc.ThinkingBudget
			}
			if msg := checkSignatures(req); msg != "" {
				return msg
			}
		}
	}
	p.seed = uint64(h)
	return ""
}

func geminiFinish(f finish) string {
	if f == finishLength {
		return "MAX_TOKENS"
	}
	return "STOP"
}

func geminiUsage(prompt, candidates, thoughts int) *gem.UsageMetadata {
	return &gem.UsageMetadata{PromptTokenCount: int64(prompt), CandidatesTokenCount: int64(candidates),
		ThoughtsTokenCount: int64(thoughts), TotalTokenCount: int64(prompt + candidates + thoughts)}
}

// geminiCallParts renders the answer's function calls; after thinking, the
// first carries the thought signature.
func geminiCallParts(a *answer, signature string) []gem.Part {
	parts := make([]gem.Part, len(a.calls))
	for i, tc := range a.calls {
		parts[i] = gem.Part{FunctionCall: &gem.FunctionCall{Name: tc.name, Args: json.RawMessage(tc.args)}}
	}
	if len(parts) > 0 {
		parts[0].ThoughtSignature = signature
	}
	return parts
}

func (s *Sim) geminiGenerate(w http.ResponseWriter, r *http.Request, model string, stream bool) {
	var req gem.GenerateContentRequest
	if !readGeminiBody(w, r, &req) {
		return
	}
	var p prompt
	var think geminiThinking
	if msg := geminiPrompt(model, &req, &p, &think); msg != "" {
		geminiInvalid(w, msg)
		return
	}
	c := s.begin(model)
	if !c.stall(r.Context()) {
		return
	}
	if c.fault != nil && c.fault.Status != 0 {
		writeGeminiFault(w, c.fault)
		return
	}
	a := plan(&p)
	g := geminiAnswer{answer: &a, thoughts: think.thoughts(&p), include: think.include}
	if think.on {
		g.signature = geminiSignature(model)
	}
	id := s.newID("")
	if stream {
		s.geminiStream(w, r, model, id, &g, c)
		return
	}
	ttft, itl := s.Latency()
	if !sleep(r.Context(), ttft+itl*time.Duration(a.outputTokens+len(g.thoughts))) {
		return
	}
	content := &gem.Content{Role: "model"}
	if g.include && len(g.thoughts) > 0 {
		content.Parts = append(content.Parts, gem.Part{Text: strings.Join(g.thoughts, ""), Thought: true})
	}
	if len(a.calls) > 0 {
		content.Parts = append(content.Parts, geminiCallParts(&a, g.signature)...)
	} else {
		content.Parts = append(content.Parts, gem.Part{Text: a.text()})
	}
	resp := gem.GenerateContentResponse{
		Candidates:    []gem.Candidate{{Content: content, FinishReason: geminiFinish(a.finish)}},
		UsageMetadata: geminiUsage(a.inputTokens, a.outputTokens, len(g.thoughts)),
		ModelVersion:  model,
		ResponseID:    id,
	}
	body, _ := json.Marshal(&resp)
	c.writeWhole(w, body, geminiGarbageBody, a.inputTokens, a.outputTokens+len(g.thoughts), "Content-Type", "application/json; charset=UTF-8")
}

// geminiAnswer is an answer with its thinking.
type geminiAnswer struct {
	*answer
	thoughts  []string
	include   bool
	signature string
}

// geminiStream answers with one SSE event per text token (or one event
// with every function call), the last carrying finishReason; every event
// carries usageMetadata with the running totals. Gemini has no end marker:
// the stream ends when the connection closes.
func (s *Sim) geminiStream(w http.ResponseWriter, r *http.Request, model, id string, a *geminiAnswer, c call) {
	ctx := r.Context()
	ttft, itl := s.Latency()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	e := newSSE(w, c, geminiGarbage)
	defer e.release()
	event := func(parts []gem.Part, finish string, out int) []byte {
		resp := gem.GenerateContentResponse{
			Candidates:    []gem.Candidate{{Content: &gem.Content{Role: "model", Parts: parts}, FinishReason: finish}},
			UsageMetadata: geminiUsage(a.inputTokens, out, len(a.thoughts)),
			ModelVersion:  model,
			ResponseID:    id,
		}
		b, _ := json.Marshal(&resp)
		out2 := append([]byte("data: "), b...)
		return append(out2, "\r\n\r\n"...)
	}
	if !sleep(ctx, ttft) {
		return
	}
	if a.include && len(a.thoughts) > 0 {
		e.buf = append(e.buf, event([]gem.Part{{Text: strings.Join(a.thoughts, ""), Thought: true}}, "", 0)...)
		if !e.send() || !sleep(ctx, itl) {
			return
		}
	}
	var last []byte
	if len(a.calls) > 0 {
		last = event(geminiCallParts(a.answer, a.signature), geminiFinish(a.finish), a.outputTokens)
	} else {
		n := len(a.tokens)
		for i, tok := range a.tokens[:max(n-1, 0)] {
			if i > 0 && !sleep(ctx, itl) {
				return
			}
			e.buf = append(e.buf, event([]gem.Part{{Text: tok}}, "", i+1)...)
			if !e.send() {
				return
			}
		}
		if n > 1 && !sleep(ctx, itl) {
			return
		}
		text := ""
		if n > 0 {
			text = a.tokens[n-1]
		}
		last = event([]gem.Part{{Text: text}}, geminiFinish(a.finish), n)
	}
	if !e.end() {
		return
	}
	c.complete(a.inputTokens, a.outputTokens+len(a.thoughts))
	e.write(last)
}

func (s *Sim) geminiEmbed(w http.ResponseWriter, r *http.Request, model string, batch bool) {
	var reqs []gem.EmbedContentRequest
	if batch {
		var b gem.BatchEmbedContentsRequest
		if !readGeminiBody(w, r, &b) {
			return
		}
		if len(b.Requests) == 0 {
			geminiInvalid(w, "* BatchEmbedContentsRequest.requests: requests is not specified")
			return
		}
		for i, q := range b.Requests {
			if q.Model != "models/"+model {
				geminiInvalid(w, "* BatchEmbedContentsRequest.requests["+strconv.Itoa(i)+"].model: the model must be models/"+model+", the model of the URL.")
				return
			}
		}
		reqs = b.Requests
	} else {
		var q gem.EmbedContentRequest
		if !readGeminiBody(w, r, &q) {
			return
		}
		reqs = []gem.EmbedContentRequest{q}
	}
	words := 0
	texts := make([]string, len(reqs))
	dims := make([]int, len(reqs))
	for i, q := range reqs {
		var ts []string
		for _, p := range q.Content.Parts {
			if p.Text != "" {
				ts = append(ts, p.Text)
			}
		}
		if len(ts) == 0 {
			geminiInvalid(w, "* EmbedContentRequest.content: contents must not be empty.")
			return
		}
		texts[i] = strings.Join(ts, "\n")
		words += countWords(texts[i])
		dims[i] = geminiEmbeddingDims
		if d := q.OutputDimensionality; d != nil {
			if *d < 1 || *d > geminiEmbeddingDims {
				geminiInvalid(w, "* EmbedContentRequest.output_dimensionality: must be between 1 and 3072.")
				return
			}
			dims[i] = *d
		}
	}
	c := s.begin(model)
	if !c.stall(r.Context()) {
		return
	}
	if c.fault != nil && c.fault.Status != 0 {
		writeGeminiFault(w, c.fault)
		return
	}
	ttft, _ := s.Latency()
	if !sleep(r.Context(), ttft) {
		return
	}
	var body []byte
	if batch {
		body = append(body, `{"embeddings":[`...)
	} else {
		body = append(body, `{"embedding":`...)
	}
	for i, text := range texts {
		if i > 0 {
			body = append(body, ',')
		}
		key := vectorKey{text: text, dims: dims[i], enc: vectorFloatJSON}
		v, ok := s.vectors.get(key)
		if !ok {
			vec := make([]float32, dims[i])
			embed(text, vec)
			v = appendFloatVector(make([]byte, 0, 12*dims[i]), vec)
			s.vectors.put(key, v)
		}
		body = append(body, `{"values":`...)
		body = append(body, v...)
		body = append(body, '}')
	}
	if batch {
		body = append(body, "]}"...)
	} else {
		body = append(body, '}')
	}
	c.writeWhole(w, body, geminiGarbageBody, words, 0, "Content-Type", "application/json; charset=UTF-8")
}

// geminiCountTokens counts as generateContent's usage would; it is not a
// model request in the stats.
func (s *Sim) geminiCountTokens(w http.ResponseWriter, r *http.Request) {
	var req gem.CountTokensRequest
	if !readGeminiBody(w, r, &req) {
		return
	}
	g := req.GenerateContentRequest
	if g == nil {
		g = &gem.GenerateContentRequest{Contents: req.Contents}
	}
	var p prompt
	if msg := geminiPrompt("", g, &p, new(geminiThinking)); msg != "" {
		geminiInvalid(w, msg)
		return
	}
	body, _ := json.Marshal(&gem.CountTokensResponse{TotalTokens: int64(p.inputTokens)})
	writeJSON(w, http.StatusOK, body)
}

func geminiModelInfo(id string) gem.Model {
	methods := []string{"generateContent", "streamGenerateContent", "countTokens"}
	if strings.Contains(id, "embedding") {
		methods = []string{"embedContent", "batchEmbedContents", "countTokens"}
	}
	return gem.Model{Name: "models/" + id, Version: "001", DisplayName: id, Description: "Simulated by causeway-sim.",
		InputTokenLimit: 1048576, OutputTokenLimit: 65536, SupportedGenerationMethods: methods}
}

func (s *Sim) geminiModels(w http.ResponseWriter, r *http.Request) {
	list := gem.ListModelsResponse{}
	for _, id := range geminiModelList {
		list.Models = append(list.Models, geminiModelInfo(id))
	}
	b, _ := json.Marshal(&list)
	writeJSON(w, http.StatusOK, b)
}

func (s *Sim) geminiModel(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(geminiModelInfo(r.PathValue("model")))
	writeJSON(w, http.StatusOK, b)
}
