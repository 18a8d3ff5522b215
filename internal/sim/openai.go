package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	oai "github.com/causeway-ai/causeway/internal/schema/openai"
)

// This file speaks the OpenAI protocol: chat completions (whole and
// streamed), embeddings, models, and OpenAI-shaped errors.

// openAIFingerprint is the system_fingerprint of every answer.
const openAIFingerprint = "fp_causewaysim"

// openAIModels are listed by GET /v1/models; any other id is answered too.
var openAIModels = []string{
	"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o4-mini",
	"text-embedding-3-small", "text-embedding-3-large", "primary", "backup",
}

// openAIModelCreated is the created time of every model.
const openAIModelCreated = 1715367049

// defaultEmbeddingDims is the vector size when the request sets none.
const defaultEmbeddingDims = 1536

var (
	openAIDone = []byte("data: [DONE]\n\n")
	// openAIGarbage is the malformed fault's event: not JSON.
	openAIGarbage = []byte("data: {\"id\":\"chatcmpl-garbage\",\"choices\":[{\"delta\":{\"content\":\"unterminated <<<simulated malformed chunk>>>\n\n")
	// openAIGarbageBody is the malformed fault's whole body: not JSON.
	openAIGarbageBody = []byte("{\"id\":\"chatcmpl-garbage\",\"object\":\"chat.completion\",\"choices\":[{\"message\": <<<simulated malformed body>>>")
)

// openAIError is an OpenAI error answer.
type openAIError struct {
	status                int
	typ, code, param, msg string
}

func (e *openAIError) write(w http.ResponseWriter) {
	writeOpenAIError(w, e.status, e.typ, e.code, e.param, e.msg)
}

func invalid(param, code, msg string) *openAIError {
	return &openAIError{status: http.StatusBadRequest, typ: "invalid_request_error", code: code, param: param, msg: msg}
}

// writeOpenAIError writes {"error":{"message","type","param","code"}};
// empty code and param are null.
func writeOpenAIError(w http.ResponseWriter, status int, typ, code, param, msg string) {
	e := oai.ErrorBody{Error: oai.ErrorDetail{Message: msg, Type: typ}}
	if code != "" {
		e.Error.Code = &code
	}
	if param != "" {
		e.Error.Param = &param
	}
	body, _ := json.Marshal(&e)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeOpenAIFault answers with the fault's status.
func writeOpenAIFault(w http.ResponseWriter, f *Fault) {
	typ, code, msg := "invalid_request_error", "", "Simulated error."
	switch s := f.Status; {
	case s == http.StatusUnauthorized:
		code, msg = "invalid_api_key", "Incorrect API key provided."
	case s == http.StatusForbidden:
		typ, msg = "permission_error", "You are not allowed to use this model."
	case s == http.StatusNotFound:
		code, msg = "model_not_found", "The model does not exist or you do not have access to it."
	case s == http.StatusTooManyRequests:
		typ, code, msg = "rate_limit_error", "rate_limit_exceeded", "Rate limit reached. Please try again later."
	case s == http.StatusServiceUnavailable:
		typ, msg = "server_error", "The server is overloaded or not ready yet."
	case s >= 500:
		typ, msg = "server_error", "The server had an error while processing your request. Sorry about that!"
	}
	if f.Message != "" {
		msg = f.Message
	}
	if f.RetryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterS))
	}
	w.Header().Set("X-Sim-Fault", f.ID)
	writeOpenAIError(w, f.Status, typ, code, "", msg)
}

// openAIAuth requires the API key, when one is set.
func (s *Sim) openAIAuth(h http.HandlerFunc) http.HandlerFunc {
	if s.bearer == "" {
		return h
	}
	want := []byte(s.bearer)
	return func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			msg := "Incorrect API key provided."
			if got == "" {
				msg = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
			}
			writeOpenAIError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "", msg)
			return
		}
		h(w, r)
	}
}

func (s *Sim) openAINotFound(w http.ResponseWriter, r *http.Request) {
	writeOpenAIError(w, http.StatusNotFound, "invalid_request_error", "", "",
		"Invalid URL ("+r.Method+" "+r.URL.Path+")")
}

// readOpenAIBody reads and decodes a JSON request body into v.
func readOpenAIBody(w http.ResponseWriter, r *http.Request, v any) *openAIError {
	body, err := readBody(w, r)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &openAIError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error",
				msg: "The request body is too large."}
		}
		return invalid("", "", "Could not read the request body.")
	}
	err = json.Unmarshal(body.Bytes(), v)
	putBody(body)
	if err != nil {
		return invalid("", "", "We could not parse the JSON body of your request. "+
			"(HINT: The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")
	}
	return nil
}

func (s *Sim) openAIChat(w http.ResponseWriter, r *http.Request) {
	var req oai.ChatRequest
	if e := readOpenAIBody(w, r, &req); e != nil {
		e.write(w)
		return
	}
	var p prompt
	if e := openAIPrompt(&req, &p); e != nil {
		e.write(w)
		return
	}
	c := s.begin(req.Model)
	if !c.stall(r.Context()) {
		return
	}
	if c.fault != nil && c.fault.Status != 0 {
		writeOpenAIFault(w, c.fault)
		return
	}
	a := plan(&p)
	if req.Stream {
		s.openAIStream(w, r, &req, &a, c)
		return
	}
	s.openAIWhole(w, r, &req, &a, c)
}

var openAIRoles = map[string]bool{
	"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true,
}

// openAIPrompt validates req and extracts the prompt: the seed hash, the
// prompt token count (Σ 4 + words per message, see generate.go) and the
// generation parameters.
func openAIPrompt(req *oai.ChatRequest, p *prompt) *openAIError {
	if req.Model == "" {
		return invalid("model", "missing_required_parameter", "you must provide a model parameter")
	}
	if req.Messages == nil {
		return invalid("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	}
	if len(req.Messages) == 0 {
		return invalid("messages", "empty_array",
			"Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	h := newHasher()
	h.str(req.Model)
	tokens := 0
	for i := range req.Messages {
		m := &req.Messages[i]
		if !openAIRoles[m.Role] {
			param := "messages[" + strconv.Itoa(i) + "].role"
			return invalid(param, "invalid_value", "Invalid value: '"+m.Role+"'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.")
		}
		text, words, err := openAIContentText(m.Content, &h)
		if err != nil {
			param := "messages[" + strconv.Itoa(i) + "].content"
			return invalid(param, "invalid_type", "Invalid type for '"+param+"': expected a string or an array of content parts.")
		}
		h.str(m.Role)
		h.str(m.Name)
		h.str(m.ToolCallID)
		words += countWords(m.Refusal)
		for _, tc := range m.ToolCalls {
			h.str(tc.ID)
			h.str(tc.Function.Name)
			h.str(tc.Function.Arguments)
			words += countWords(tc.Function.Name) + countWords(tc.Function.Arguments)
		}
		tokens += 4 + words
		if m.Role == "user" {
			p.lastUser = text
		}
	}
	// A conversation that ends with tool results asks for an answer about them.
	first := len(req.Messages)
	for first > 0 && (req.Messages[first-1].Role == "tool" || req.Messages[first-1].Role == "function") {
		first--
	}
	if first < len(req.Messages) {
		p.toolResults = make([]string, 0, len(req.Messages)-first)
		for _, m := range req.Messages[first:] {
			text, _, _ := openAIContentText(m.Content, nil)
			p.toolResults = append(p.toolResults, text)
		}
	}
	p.inputTokens = tokens

	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			continue // custom tools are not simulated
		}
		if t.Function.Name == "" {
			return invalid("tools["+strconv.Itoa(i)+"].function.name", "missing_required_parameter",
				"Missing required parameter: 'tools["+strconv.Itoa(i)+"].function.name'.")
		}
		h.str(t.Function.Name)
		h.bytes(t.Function.Parameters)
		p.tools = append(p.tools, toolSpec{name: t.Function.Name, params: t.Function.Parameters})
	}
	if e := openAIToolChoice(req, p); e != nil {
		return e
	}
	h.bytes(req.ToolChoice)
	p.parallel = req.ParallelToolCalls == nil || *req.ParallelToolCalls

	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_object":
			p.format = formatJSONObject
		case "json_schema":
			if rf.JSONSchema == nil {
				return invalid("response_format.json_schema", "missing_required_parameter",
					"Missing required parameter: 'response_format.json_schema'.")
			}
			p.format = formatJSONSchema
			p.schema = rf.JSONSchema.Schema
			h.bytes(p.schema)
		default:
			return invalid("response_format.type", "invalid_value",
				"Invalid value: '"+rf.Type+"'. Supported values are: 'text', 'json_object', and 'json_schema'.")
		}
		h.str(rf.Type)
	}

	if req.Seed != nil {
		h.u64(uint64(*req.Seed))
	}
	p.seed = uint64(h)

	switch {
	case req.MaxCompletionTokens != nil:
		if *req.MaxCompletionTokens < 1 {
			return belowMin("max_completion_tokens", *req.MaxCompletionTokens)
		}
		p.maxTokens = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		if *req.MaxTokens < 1 {
			return belowMin("max_tokens", *req.MaxTokens)
		}
		p.maxTokens = *req.MaxTokens
	}

	if stop := bytes.TrimSpace(req.Stop); !oai.IsNull(stop) {
		var err error
		switch stop[0] {
		case '"':
			var s string
			err = json.Unmarshal(stop, &s)
			p.stops = []string{s}
		case '[':
			err = json.Unmarshal(stop, &p.stops)
		default:
			err = errors.New("bad stop")
		}
		if err != nil {
			return invalid("stop", "invalid_type", "Invalid type for 'stop': expected a string or an array of strings.")
		}
	}
	return nil
}

func belowMin(param string, got int) *openAIError {
	return invalid(param, "integer_below_min_value", "Invalid '"+param+
		"': integer below minimum value. Expected a value >= 1, but got "+strconv.Itoa(got)+" instead.")
}

// openAIToolChoice reads tool_choice into p.
func openAIToolChoice(req *oai.ChatRequest, p *prompt) *openAIError {
	raw := bytes.TrimSpace(req.ToolChoice)
	if oai.IsNull(raw) {
		return nil
	}
	if len(req.Tools) == 0 {
		return invalid("tool_choice", "",
			"Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		switch s {
		case "auto":
			p.toolMode = toolAuto
		case "none":
			p.toolMode = toolNone
		case "required":
			p.toolMode = toolRequired
		default:
			return invalid("tool_choice", "invalid_value",
				"Invalid value: '"+s+"'. Supported values are: 'none', 'auto', and 'required'.")
		}
	case '{':
		var tc oai.ToolChoiceFunction
		if err := json.Unmarshal(raw, &tc); err != nil {
			return invalid("tool_choice", "invalid_type", "Invalid type for 'tool_choice'.")
		}
		if tc.Type != "function" {
			p.toolMode = toolAuto // allowed_tools and custom: call the first tool
			return nil
		}
		for _, t := range p.tools {
			if t.name == tc.Function.Name {
				p.toolMode, p.toolName = toolNamed, t.name
				return nil
			}
		}
		return invalid("tool_choice", "",
			"Tool choice 'function' with name '"+tc.Function.Name+"' not found in 'tools' parameter.")
	default:
		return invalid("tool_choice", "invalid_type", "Invalid type for 'tool_choice'.")
	}
	return nil
}

// openAIContentText returns a message content's text (text parts joined by
// newlines) and its word count, hashing it into h when h is not nil.
func openAIContentText(raw json.RawMessage, h *hasher) (string, int, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
		// Fast path: a string without escapes is its own text.
		s := string(raw[1 : len(raw)-1])
		if h != nil {
			h.str(s)
		}
		return s, countWords(s), nil
	}
	s, parts, isString, err := oai.StringOrParts(raw)
	if err != nil {
		return "", 0, err
	}
	if isString {
		if h != nil {
			h.str(s)
		}
		return s, countWords(s), nil
	}
	var texts []string
	words := 0
	for _, part := range parts {
		t := part.Text
		if part.Type == "refusal" {
			t = part.Refusal
		}
		if h != nil {
			h.str(part.Type)
			h.str(t)
			if part.ImageURL != nil {
				h.str(part.ImageURL.URL)
			}
		}
		if t != "" {
			texts = append(texts, t)
			words += countWords(t)
		}
	}
	return strings.Join(texts, "\n"), words, nil
}

func openAIFinish(f finish) string {
	switch f {
	case finishLength:
		return "length"
	case finishToolCalls:
		return "tool_calls"
	}
	return "stop"
}

func openAIUsage(a *answer) *oai.Usage {
	return &oai.Usage{
		PromptTokens:            int64(a.inputTokens),
		CompletionTokens:        int64(a.outputTokens),
		TotalTokens:             int64(a.inputTokens + a.outputTokens),
		PromptTokensDetails:     &oai.PromptTokensDetails{},
		CompletionTokensDetails: &oai.CompletionTokensDetails{},
	}
}

// openAIWhole answers with one chat.completion object.
func (s *Sim) openAIWhole(w http.ResponseWriter, r *http.Request, req *oai.ChatRequest, a *answer, c call) {
	ttft, itl := s.Latency()
	if !sleep(r.Context(), ttft+itl*time.Duration(a.outputTokens)) {
		return
	}
	msg := oai.ResponseMessage{Role: "assistant"}
	if len(a.calls) > 0 {
		msg.ToolCalls = make([]oai.ToolCall, len(a.calls))
		for i, tc := range a.calls {
			msg.ToolCalls[i] = oai.ToolCall{ID: tc.id, Type: "function",
				Function: oai.FunctionCall{Name: tc.name, Arguments: tc.args}}
		}
	} else {
		text := a.text()
		msg.Content = &text
	}
	resp := oai.ChatResponse{
		ID:                s.newID("chatcmpl-"),
		Object:            "chat.completion",
		Created:           time.Now().Unix(),
		Model:             req.Model,
		Choices:           []oai.Choice{{Message: msg, FinishReason: openAIFinish(a.finish)}},
		Usage:             openAIUsage(a),
		SystemFingerprint: openAIFingerprint,
		ServiceTier:       "default",
	}
	body, err := json.Marshal(&resp)
	if err != nil {
		writeOpenAIError(w, http.StatusInternalServerError, "server_error", "", "", "simulator: "+err.Error())
		return
	}
	c.writeWhole(w, body, openAIGarbageBody, a.inputTokens, a.outputTokens)
}

// openAIStream answers with chat.completion.chunk events: the role, one
// event per token (or tool call header and argument fragment), the finish
// reason, the usage when asked for, and [DONE].
func (s *Sim) openAIStream(w http.ResponseWriter, r *http.Request, req *oai.ChatRequest, a *answer, c call) {
	ctx := r.Context()
	ttft, itl := s.Latency()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	e := newSSE(w, c, openAIGarbage)
	defer e.release()
	base := oai.ChatChunk{
		ID:                s.newID("chatcmpl-"),
		Object:            "chat.completion.chunk",
		Created:           time.Now().Unix(),
		Model:             req.Model,
		SystemFingerprint: openAIFingerprint,
	}

	if len(a.calls) == 0 {
		empty := ""
		if !sendChunk(e, &base, oai.ChunkChoice{Delta: oai.Delta{Role: "assistant", Content: &empty}}) {
			return
		}
		if !sleep(ctx, ttft) {
			return
		}
		prefix, suffix := chunkTemplate(&base, oai.Delta{Content: &sentinel})
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
			if !sendChunk(e, &base, oai.ChunkChoice{Delta: d}) {
				return
			}
			prefix, suffix := chunkTemplate(&base, oai.Delta{ToolCalls: []oai.ToolCall{{Index: &idx,
				Function: oai.FunctionCall{Arguments: sentinel}}}})
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
	if !sendChunk(e, &base, oai.ChunkChoice{FinishReason: &reason}) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		chunk := base
		chunk.Choices = []oai.ChunkChoice{}
		chunk.Usage = openAIUsage(a)
		if !sendEvent(e, &chunk) {
			return
		}
	}
	if !e.end() {
		return
	}
	c.complete(a.inputTokens, a.outputTokens)
	e.write(openAIDone)
}

// sentinel marks where a template's variable string goes: it is the only
// NUL in a chunk, which encoding/json writes as \u0000.
var sentinel = "\x00"

// chunkTemplate renders base with one choice carrying delta, and splits it
// around the sentinel string, so that each token's event is
// prefix + escaped token + suffix: byte for byte what encoding/json would
// write for that chunk, for the price of one Marshal per stream.
func chunkTemplate(base *oai.ChatChunk, delta oai.Delta) (prefix, suffix []byte) {
	chunk := *base
	chunk.Choices = []oai.ChunkChoice{{Delta: delta}}
	b, _ := json.Marshal(&chunk)
	i := bytes.LastIndex(b, []byte(`"\u0000"`))
	prefix = append([]byte("data: "), b[:i+1]...)
	suffix = append(b[i+7:], "\n\n"...)
	return prefix, suffix
}

// sendChunk sends base with one choice.
func sendChunk(e *sse, base *oai.ChatChunk, choice oai.ChunkChoice) bool {
	chunk := *base
	chunk.Choices = []oai.ChunkChoice{choice}
	return sendEvent(e, &chunk)
}

func sendEvent(e *sse, chunk *oai.ChatChunk) bool {
	b, _ := json.Marshal(chunk)
	e.buf = append(e.buf, "data: "...)
	e.buf = append(e.buf, b...)
	e.buf = append(e.buf, "\n\n"...)
	return e.send()
}

func (s *Sim) openAIEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req oai.EmbeddingRequest
	if e := readOpenAIBody(w, r, &req); e != nil {
		e.write(w)
		return
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
		writeOpenAIFault(w, c.fault)
		return
	}
	ttft, _ := s.Latency()
	if !sleep(r.Context(), ttft) {
		return
	}

	body := s.openAIEmbeddingBody(&req, inputs, words, dims, b64)
	c.writeWhole(w, body, openAIGarbageBody, words, 0)
}

// openAIEmbeddingBody renders the embeddings list. encoding/json would
// re-validate every vector it is given as a json.RawMessage, which costs
// more than making them; so the envelope is marshalled with null
// placeholders and the vectors are spliced in their place.
func (s *Sim) openAIEmbeddingBody(req *oai.EmbeddingRequest, inputs []string, words, dims int, b64 bool) []byte {
	resp := oai.EmbeddingResponse{
		Object: "list",
		Data:   make([]oai.Embedding, len(inputs)),
		Model:  req.Model,
		Usage:  oai.EmbeddingUsage{PromptTokens: int64(words), TotalTokens: int64(words)},
	}
	null := json.RawMessage("null")
	for i := range resp.Data {
		resp.Data[i] = oai.Embedding{Object: "embedding", Index: i, Embedding: null}
	}
	env, _ := json.Marshal(&resp)

	enc := vectorFloatJSON
	if b64 {
		enc = vectorBase64JSON
	}
	vectors := make([][]byte, len(inputs))
	size := len(env)
	var vec []float32
	for i, in := range inputs {
		key := vectorKey{text: in, dims: dims, enc: enc}
		v, ok := s.vectors.get(key)
		if !ok {
			if vec == nil {
				vec = make([]float32, dims)
			}
			embed(in, vec)
			if b64 {
				v = appendBase64Vector(make([]byte, 0, base64.StdEncoding.EncodedLen(4*dims)+2), vec)
			} else {
				v = appendFloatVector(make([]byte, 0, 12*dims), vec)
			}
			s.vectors.put(key, v)
		}
		vectors[i] = v
		size += len(v)
	}
	out := make([]byte, 0, size)
	placeholder := []byte(`"embedding":null`)
	for _, v := range vectors {
		at := bytes.Index(env, placeholder) + len(placeholder) - len("null")
		out = append(out, env[:at]...)
		out = append(out, v...)
		env = env[at+len("null"):]
	}
	return append(out, env...)
}

// embeddingInputs reads input: a string, an array of strings, a token
// array, or an array of token arrays. A token array becomes the string of
// its ids joined by spaces, so it counts one word per token.
// embeddingParams validates an embeddings request as OpenAI (and Azure)
// do, returning its inputs, their word count, the dimensions and whether
// vectors are wanted in base64.
func embeddingParams(req *oai.EmbeddingRequest) (inputs []string, words, dims int, b64 bool, e *openAIError) {
	if req.Model == "" {
		return nil, 0, 0, false, invalid("model", "missing_required_parameter", "you must provide a model parameter")
	}
	inputs, words, e = embeddingInputs(req.Input)
	if e != nil {
		return nil, 0, 0, false, e
	}
	dims = defaultEmbeddingDims
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > 8192 {
			return nil, 0, 0, false, invalid("dimensions", "invalid_value", "Invalid 'dimensions': expected a value between 1 and 8192.")
		}
		dims = *req.Dimensions
	}
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		b64 = true
	default:
		return nil, 0, 0, false, invalid("encoding_format", "invalid_value",
			"Invalid value: '"+req.EncodingFormat+"'. Supported values are: 'float' and 'base64'.")
	}
	return inputs, words, dims, b64, nil
}

func embeddingInputs(raw json.RawMessage) ([]string, int, *openAIError) {
	raw = bytes.TrimSpace(raw)
	bad := invalid("input", "invalid_value", "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
	if oai.IsNull(raw) {
		return nil, 0, invalid("input", "missing_required_parameter", "Missing required parameter: 'input'.")
	}
	var inputs []string
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, 0, bad
		}
		inputs = []string{s}
	case '[':
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil || len(elems) == 0 {
			return nil, 0, bad
		}
		switch elems[0][0] {
		case '"':
			if json.Unmarshal(raw, &inputs) != nil {
				return nil, 0, bad
			}
		case '[':
			var arrays [][]int64
			if json.Unmarshal(raw, &arrays) != nil {
				return nil, 0, bad
			}
			for _, a := range arrays {
				inputs = append(inputs, joinTokens(a))
			}
		default:
			var tokens []int64
			if json.Unmarshal(raw, &tokens) != nil {
				return nil, 0, bad
			}
			inputs = []string{joinTokens(tokens)}
		}
	default:
		return nil, 0, bad
	}
	words := 0
	for _, in := range inputs {
		if in == "" {
			return nil, 0, bad
		}
		words += countWords(in)
	}
	return inputs, words, nil
}

func joinTokens(tokens []int64) string {
	b := make([]byte, 0, 6*len(tokens))
	for i, t := range tokens {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, t, 10)
	}
	return string(b)
}

func appendFloatVector(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	return append(b, ']')
}

// appendBase64Vector appends v as a JSON string: base64 of little-endian
// float32s.
func appendBase64Vector(b []byte, v []float32) []byte {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, raw)
	return append(b, '"')
}

// openAIModelList is the constant body of GET /v1/models.
var openAIModelList = func() []byte {
	list := oai.ModelList{Object: "list"}
	for _, id := range openAIModels {
		list.Data = append(list.Data, oai.Model{ID: id, Object: "model", Created: openAIModelCreated, OwnedBy: "causeway-sim"})
	}
	b, _ := json.Marshal(&list)
	return b
}()

func (s *Sim) openAIModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, openAIModelList)
}

func (s *Sim) openAIModel(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(&oai.Model{ID: r.PathValue("id"), Object: "model", Created: openAIModelCreated, OwnedBy: "causeway-sim"})
	writeJSON(w, http.StatusOK, b)
}
