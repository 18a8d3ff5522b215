package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	ant "github.com/causeway-ai/causeway/internal/schema/anthropic"
)

// This file speaks Anthropic's Messages protocol:
//
//	POST /v1/messages               whole, or streamed (SSE) with "stream": true
//	POST /v1/messages/count_tokens  {"input_tokens": N}
//
// Requests need the anthropic-version header (400 invalid_request_error
// "anthropic-version: header is required" without it, as the API answers)
// and, when Options.APIKey is set, "x-api-key: <key>" or, as newer SDKs
// send it, "Authorization: Bearer <key>" (401 authentication_error
// otherwise). Errors have Anthropic's shape
// {"type":"error","error":{"type","message"}}; faults map to it: 429
// rate_limit_error (with retry-after), 529 overloaded_error, 500 api_error,
// and so on. On a streamed request, a fault with both a status and
// cut_after_chunks starts the stream normally and, after that many events,
// sends an "error" event of the status's type (e.g. overloaded_error for
// 529) and ends the stream, as the API reports failures mid-stream.
//
// The answer comes from the same generator as every protocol's (see
// generate.go): the prompt is hashed from the model, the system text, every
// message's role and blocks (text, tool_use id/name/input, tool_result id and
// text, image sources), the tools, tool_choice and the thinking setting. A
// conversation whose last user turn holds only tool_result blocks gets "The
// tool returned: …". tool_choice any acts as OpenAI's required, tool as a
// named function, disable_parallel_tool_use as parallel_tool_calls false.
//
// A stream is exactly the API's sequence: message_start (its usage has the
// input counts and output_tokens 1, as the API sends), one ping, then per
// content block content_block_start, its deltas (one text_delta per token,
// one input_json_delta per JSON fragment after an empty first one,
// thinking_delta per token then one signature_delta) and
// content_block_stop; then message_delta with stop_reason, stop_sequence
// and the cumulative usage (input counts again, final output_tokens) and
// message_stop. TTFT comes before the first content block, ITL before each
// later delta.
//
// Thinking ("thinking": {"type": "enabled", "budget_tokens" ≥ 1024, below
// max_tokens}) adds a first thinking block of 20 to 28 pseudo-text tokens and
// a deterministic signature; its tokens count in output_tokens. max_tokens
// caps the answer's text only.
//
// Usage: the prompt's tokens are counted as for OpenAI (Σ over the system
// prompt and each message of 4 + its words; tool_use names and inputs and
// tool_result texts count as words; images, documents and thinking count
// none). A cache_control marker makes every token up to the end of the
// system prompt or message holding the last marker a cache write
// (cache_creation_input_tokens), reported on every request (the simulator
// keeps no cache, so cache_read_input_tokens is always 0); input_tokens is
// the rest, as the API counts it. /sim/stats input_tokens counts
// input_tokens + cache_read_input_tokens, the canonical (OpenAI
// prompt_tokens) definition that the gateway meters; cache writes are not
// in it.

func init() {
	protocols = append(protocols, func(s *Sim, m *http.ServeMux) {
		m.HandleFunc("POST /v1/messages", s.anthropicAuth(s.anthropicMessages))
		m.HandleFunc("POST /v1/messages/count_tokens", s.anthropicAuth(s.anthropicCountTokens))
	})
}

var (
	// anthropicGarbage is the malformed fault's event: not JSON.
	anthropicGarbage = []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"unterminated <<<simulated malformed chunk>>>\n\n")
	// anthropicGarbageBody is the malformed fault's whole body.
	anthropicGarbageBody = []byte("{\"id\":\"msg_garbage\",\"type\":\"message\",\"content\":[ <<<simulated malformed body>>>")
)

// anthropicError is an Anthropic error answer.
type anthropicError struct {
	status   int
	typ, msg string
}

func (e *anthropicError) write(w http.ResponseWriter) { writeAnthropicError(w, e.status, e.typ, e.msg) }

func antInvalid(msg string) *anthropicError {
	return &anthropicError{status: http.StatusBadRequest, typ: "invalid_request_error", msg: msg}
}

func writeAnthropicError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(&ant.ErrorBody{Type: "error", Error: ant.ErrorDetail{Type: typ, Message: msg}})
	writeJSON(w, status, body)
}

// anthropicErrorType is the error type Anthropic uses for status.
func anthropicErrorType(status int) (string, string) {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error", "Simulated invalid request."
	case http.StatusUnauthorized:
		return "authentication_error", "invalid x-api-key"
	case http.StatusForbidden:
		return "permission_error", "Your API key does not have permission to use the specified resource."
	case http.StatusNotFound:
		return "not_found_error", "The requested resource could not be found."
	case http.StatusRequestEntityTooLarge:
		return "request_too_large", "Request exceeds the maximum allowed number of bytes."
	case http.StatusTooManyRequests:
		return "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."
	case 529:
		return "overloaded_error", "Overloaded"
	case http.StatusGatewayTimeout:
		return "timeout_error", "Request timed out."
	}
	if status >= 500 {
		return "api_error", "Internal server error"
	}
	return "invalid_request_error", "Simulated error."
}

func writeAnthropicFault(w http.ResponseWriter, f *Fault) {
	typ, msg := anthropicErrorType(f.Status)
	if f.Message != "" {
		msg = f.Message
	}
	if f.RetryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterS))
	}
	w.Header().Set("X-Sim-Fault", f.ID)
	writeAnthropicError(w, f.Status, typ, msg)
}

// anthropicAuth requires anthropic-version and, when a key is set,
// x-api-key.
func (s *Sim) anthropicAuth(h http.HandlerFunc) http.HandlerFunc {
	var want []byte
	if s.bearer != "" {
		want = []byte(strings.TrimPrefix(s.bearer, "Bearer "))
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if want != nil {
			got := r.Header.Get("X-Api-Key")
			if got == "" {
				// Newer SDKs send the key as a bearer token.
				got, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			}
			if got == "" {
				writeAnthropicError(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
				return
			}
			if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
				writeAnthropicError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
				return
			}
		}
		if r.Header.Get("Anthropic-Version") == "" {
			writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
			return
		}
		h(w, r)
	}
}

// readAnthropicBody reads and decodes a JSON request body into v.
func readAnthropicBody(w http.ResponseWriter, r *http.Request, v any) *anthropicError {
	body, err := readBody(w, r)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &anthropicError{status: http.StatusRequestEntityTooLarge, typ: "request_too_large",
				msg: "Request exceeds the maximum allowed number of bytes."}
		}
		return antInvalid("Could not read the request body.")
	}
	err = json.Unmarshal(body.Bytes(), v)
	putBody(body)
	if err != nil {
		return antInvalid("There was an issue with your request body: it is not valid JSON.")
	}
	return nil
}

// anthropicPrompt is what the simulator takes from a Messages request.
type anthropicPrompt struct {
	p          prompt
	cacheWrite int
	thinking   bool
}

func (s *Sim) anthropicCountTokens(w http.ResponseWriter, r *http.Request) {
	var req ant.CountTokensRequest
	if e := readAnthropicBody(w, r, &req); e != nil {
		e.write(w)
		return
	}
	full := ant.MessagesRequest{Model: req.Model, MaxTokens: 1, Messages: req.Messages, System: req.System,
		Tools: req.Tools, ToolChoice: req.ToolChoice}
	var ap anthropicPrompt
	if e := anthropicExtract(&full, &ap); e != nil {
		e.write(w)
		return
	}
	b, _ := json.Marshal(&ant.CountTokensResponse{InputTokens: int64(ap.p.inputTokens)})
	writeJSON(w, http.StatusOK, b)
}

func (s *Sim) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	var req ant.MessagesRequest
	if e := readAnthropicBody(w, r, &req); e != nil {
		e.write(w)
		return
	}
	var ap anthropicPrompt
	if e := anthropicExtract(&req, &ap); e != nil {
		e.write(w)
		return
	}
	if req.MaxTokens < 1 {
		antInvalid("max_tokens: Field required").write(w)
		return
	}
	if t := req.Thinking; t != nil && t.Type == "enabled" {
		if t.BudgetTokens < 1024 {
			antInvalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024").write(w)
			return
		}
		if t.BudgetTokens >= req.MaxTokens {
			antInvalid("`max_tokens` must be greater than `thinking.budget_tokens`.").write(w)
			return
		}
	}
	c := s.begin(req.Model)
	if !c.stall(r.Context()) {
		return
	}
	errAt := 0
	if f := c.fault; f != nil && f.Status != 0 {
		if !req.Stream || f.CutAfterChunks == 0 {
			writeAnthropicFault(w, f)
			return
		}
		// A status with cut_after_chunks on a stream: an error event
		// after that many events, as the API reports failures mid-stream.
		errAt = f.CutAfterChunks
		g := *f
		g.CutAfterChunks = 0
		c.fault = &g
	}
	ap.p.maxTokens = req.MaxTokens
	a := plan(&ap.p)
	res := anthropicResult(&ap, &a)
	if req.Stream {
		s.anthropicStream(w, r, &req, &res, c, errAt)
		return
	}
	s.anthropicWhole(w, r, &req, &res, c)
}

// anthropicAnswer is a planned answer in Anthropic's terms.
type anthropicAnswer struct {
	a            *answer
	thinking     []string
	signature    string
	stopReason   string
	stopSequence string
	input        int // input_tokens: the prompt less the cache write
	cacheWrite   int
	output       int
}

func anthropicResult(ap *anthropicPrompt, a *answer) anthropicAnswer {
	res := anthropicAnswer{a: a, cacheWrite: ap.cacheWrite, input: a.inputTokens - ap.cacheWrite}
	if ap.thinking {
		r := rng{s: ap.p.seed ^ 0x7468696e6b696e67} // "thinking"
		res.thinking = pseudoText(&r)
		sig := make([]byte, 48)
		for i := range sig {
			sig[i] = byte(r.next())
		}
		res.signature = base64.StdEncoding.EncodeToString(sig)
	}
	res.output = a.outputTokens + len(res.thinking)
	switch a.finish {
	case finishLength:
		res.stopReason = "max_tokens"
	case finishToolCalls:
		res.stopReason = "tool_use"
	default:
		res.stopReason = "end_turn"
		if len(ap.p.stops) > 0 {
			// Which stop sequence ended it: the earliest in the uncut answer.
			q := ap.p
			q.stops, q.maxTokens = nil, 0
			full := plan(&q)
			text := full.text()
			if cut := a.text(); len(cut) < len(text) {
				at := -1
				for _, s := range ap.p.stops {
					if i := strings.Index(text, s); s != "" && i >= 0 && (at < 0 || i < at) {
						at, res.stopSequence = i, s
					}
				}
				if res.stopSequence != "" {
					res.stopReason = "stop_sequence"
				}
			}
		}
	}
	return res
}

// anthropicExtract validates req and fills ap.
func anthropicExtract(req *ant.MessagesRequest, ap *anthropicPrompt) *anthropicError {
	p := &ap.p
	if req.Model == "" {
		return antInvalid("model: Field required")
	}
	if len(req.Messages) == 0 {
		return antInvalid("messages: at least one message is required")
	}
	h := newHasher()
	h.str(req.Model)
	tokens := 0
	cacheUpTo := 0 // tokens up to the end of the last unit with a marker
	if sys := bytes.TrimSpace(req.System); len(sys) > 0 && string(sys) != "null" {
		_, words, marked, err := anthropicContent(sys, &h)
		if err != nil {
			return antInvalid("system: Input should be a valid string or a list of text blocks")
		}
		tokens += 4 + words
		if marked {
			cacheUpTo = tokens
		}
	}
	var last *ant.Message
	for i := range req.Messages {
		m := &req.Messages[i]
		if m.Role != "user" && m.Role != "assistant" {
			return antInvalid("messages." + strconv.Itoa(i) + ".role: Input should be 'user' or 'assistant'")
		}
		h.str(m.Role)
		text, words, marked, err := anthropicContent(m.Content, &h)
		if err != nil {
			return antInvalid("messages." + strconv.Itoa(i) + ".content: Input should be a valid string or a list of content blocks")
		}
		tokens += 4 + words
		if marked {
			cacheUpTo = tokens
		}
		if m.Role == "user" {
			last = m
			if text != "" {
				p.lastUser = text
			}
		}
	}
	// A last user turn of tool results asks for an answer about them.
	if last == &req.Messages[len(req.Messages)-1] {
		var blocks []ant.ContentBlock
		if json.Unmarshal(last.Content, &blocks) == nil && len(blocks) > 0 {
			results := make([]string, 0, len(blocks))
			for _, b := range blocks {
				if b.Type != "tool_result" {
					results = nil
					break
				}
				t, _, _, _ := anthropicContent(b.Content, nil)
				results = append(results, t)
			}
			if len(results) > 0 {
				p.toolResults = results
			}
		}
	}
	p.inputTokens = tokens
	ap.cacheWrite = cacheUpTo

	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "custom" {
			continue // server tools are not simulated
		}
		if t.Name == "" {
			return antInvalid("tools." + strconv.Itoa(i) + ".custom.name: Field required")
		}
		if len(t.InputSchema) == 0 {
			return antInvalid("tools." + strconv.Itoa(i) + ".custom.input_schema: Field required")
		}
		h.str(t.Name)
		h.bytes(t.InputSchema)
		p.tools = append(p.tools, toolSpec{name: t.Name, params: t.InputSchema})
	}
	p.parallel = true
	if tc := req.ToolChoice; tc != nil {
		if len(req.Tools) == 0 && tc.Type != "none" {
			return antInvalid("tool_choice: tool_choice may only be specified while providing tools")
		}
		switch tc.Type {
		case "auto":
			p.toolMode = toolAuto
		case "any":
			p.toolMode = toolRequired
		case "none":
			p.toolMode = toolNone
		case "tool":
			found := false
			for _, t := range p.tools {
				if t.name == tc.Name {
					found = true
				}
			}
			if !found {
				return antInvalid("tool_choice.tool.name: Tool '" + tc.Name + "' not found in the provided tools")
			}
			p.toolMode, p.toolName = toolNamed, tc.Name
		default:
			return antInvalid("tool_choice.type: Input tag '" + tc.Type + "' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'")
		}
		h.str(tc.Type)
		h.str(tc.Name)
		if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse {
			p.parallel = false
		}
	}
	if t := req.Thinking; t != nil {
		switch t.Type {
		case "enabled":
			ap.thinking = true
			h.str("thinking")
		case "disabled":
		default:
			return antInvalid("thinking.type: Input tag '" + t.Type + "' found using 'type' does not match any of the expected tags: 'enabled', 'disabled'")
		}
	}
	p.stops = req.StopSequences
	p.seed = uint64(h)
	return nil
}

// anthropicContent returns a content's text (text blocks joined by
// newlines), its word count and whether a block carries cache_control,
// hashing it into h when h is not nil. Content is a string or blocks.
func anthropicContent(raw json.RawMessage, h *hasher) (string, int, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", 0, false, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", 0, false, err
		}
		if h != nil {
			h.str(s)
		}
		return s, countWords(s), false, nil
	}
	var blocks []ant.ContentBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", 0, false, err
	}
	var texts []string
	words := 0
	marked := false
	for _, b := range blocks {
		if b.CacheControl != nil {
			marked = true
		}
		if h != nil {
			h.str(b.Type)
		}
		switch b.Type {
		case "text":
			if b.Text == nil {
				return "", 0, false, errors.New("text block without text")
			}
			if h != nil {
				h.str(*b.Text)
			}
			texts = append(texts, *b.Text)
			words += countWords(*b.Text)
		case "tool_use":
			if h != nil {
				h.str(b.ID)
				h.str(b.Name)
				h.bytes(b.Input)
			}
			words += countWords(b.Name) + countWords(string(b.Input))
		case "tool_result":
			_, n, m, err := anthropicContent(b.Content, h)
			if err != nil {
				return "", 0, false, err
			}
			if h != nil {
				h.str(b.ToolUseID)
			}
			marked = marked || m
			words += n
		case "image", "document":
			if h != nil && b.Source != nil {
				h.str(b.Source.URL)
				h.str(b.Source.Data)
			}
		}
	}
	return strings.Join(texts, "\n"), words, marked, nil
}

func anthropicUsage(res *anthropicAnswer, output int) ant.Usage {
	return ant.Usage{InputTokens: int64(res.input), OutputTokens: int64(output),
		CacheCreationInputTokens: int64(res.cacheWrite), CacheReadInputTokens: 0, ServiceTier: "standard"}
}

// anthropicWhole answers with one message object.
func (s *Sim) anthropicWhole(w http.ResponseWriter, r *http.Request, req *ant.MessagesRequest, res *anthropicAnswer, c call) {
	ttft, itl := s.Latency()
	if !sleep(r.Context(), ttft+itl*time.Duration(res.output)) {
		return
	}
	a := res.a
	var content []ant.ContentBlock
	if len(res.thinking) > 0 {
		t, sig := strings.Join(res.thinking, ""), res.signature
		content = append(content, ant.ContentBlock{Type: "thinking", Thinking: &t, Signature: &sig})
	}
	if len(a.calls) > 0 {
		for _, tc := range a.calls {
			content = append(content, ant.ContentBlock{Type: "tool_use", ID: anthropicToolID(tc.id), Name: tc.name, Input: json.RawMessage(tc.args)})
		}
	} else {
		t := a.text()
		content = append(content, ant.ContentBlock{Type: "text", Text: &t})
	}
	resp := ant.MessagesResponse{
		ID: s.newID("msg_"), Type: "message", Role: "assistant", Model: req.Model,
		Content: content, StopReason: &res.stopReason, Usage: anthropicUsage(res, res.output),
	}
	if res.stopSequence != "" {
		resp.StopSequence = &res.stopSequence
	}
	body, err := json.Marshal(&resp)
	if err != nil {
		writeAnthropicError(w, http.StatusInternalServerError, "api_error", "simulator: "+err.Error())
		return
	}
	c.writeWhole(w, body, anthropicGarbageBody, res.input, res.output) // input + cache reads (always 0 here)
}

// anthropicToolID turns the generator's call id into Anthropic's form.
func anthropicToolID(id string) string { return "toolu_" + strings.TrimPrefix(id, "call_") }

// anthropicStreamDelta is message_delta as the API sends it: stop_reason
// and stop_sequence are always present, null when they do not apply.
type anthropicStreamDelta struct {
	Type  string `json:"type"`
	Delta struct {
		StopReason   *string `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage ant.DeltaUsage `json:"usage"`
}

// anthropicStream answers with the Messages event stream.
func (s *Sim) anthropicStream(w http.ResponseWriter, r *http.Request, req *ant.MessagesRequest, res *anthropicAnswer, c call, errAt int) {
	ctx := r.Context()
	ttft, itl := s.Latency()
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	e := &antSSE{sse: newSSE(w, c, anthropicGarbage), errAt: errAt}
	defer e.release()
	if errAt > 0 {
		typ, msg := anthropicErrorType(c.fault.Status)
		if c.fault.Message != "" {
			msg = c.fault.Message
		}
		b, _ := json.Marshal(&ant.StreamEvent{Type: ant.EventError, Error: &ant.ErrorDetail{Type: typ, Message: msg}})
		e.errEvent = append(append([]byte("event: error\ndata: "), b...), "\n\n"...)
	}
	a := res.a

	start := ant.MessagesResponse{ID: s.newID("msg_"), Type: "message", Role: "assistant", Model: req.Model,
		Content: []ant.ContentBlock{}, Usage: anthropicUsage(res, 1)}
	if !anthropicSend(e, ant.EventMessageStart, &ant.StreamEvent{Type: ant.EventMessageStart, Message: &start}) {
		return
	}
	if !anthropicSend(e, ant.EventPing, &ant.StreamEvent{Type: ant.EventPing}) {
		return
	}
	if !sleep(ctx, ttft) {
		return
	}
	index := 0
	first := true
	wait := func() bool {
		if first {
			first = false
			return true
		}
		return sleep(ctx, itl)
	}
	blockStart := func(cb ant.ContentBlock) bool {
		i := index
		return anthropicSend(e, ant.EventContentBlockStart, &ant.StreamEvent{Type: ant.EventContentBlockStart, Index: &i, ContentBlock: &cb})
	}
	blockStop := func() bool {
		i := index
		index++
		return anthropicSend(e, ant.EventContentBlockStop, &ant.StreamEvent{Type: ant.EventContentBlockStop, Index: &i})
	}
	// delta sends one content_block_delta whose delta is
	// {"type":kind,field:value}.
	delta := func(kind, field, value string) bool {
		e.buf = append(e.buf, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
		e.buf = strconv.AppendInt(e.buf, int64(index), 10)
		e.buf = append(e.buf, ",\"delta\":{\"type\":\""...)
		e.buf = append(e.buf, kind...)
		e.buf = append(e.buf, "\",\""...)
		e.buf = append(e.buf, field...)
		e.buf = append(e.buf, "\":"...)
		e.buf = appendQuoted(e.buf, value)
		e.buf = append(e.buf, "}}\n\n"...)
		return e.send()
	}

	if len(res.thinking) > 0 {
		empty, sig := "", ""
		if !blockStart(ant.ContentBlock{Type: "thinking", Thinking: &empty, Signature: &sig}) {
			return
		}
		for _, tok := range res.thinking {
			if !wait() || !delta("thinking_delta", "thinking", tok) {
				return
			}
		}
		if !delta("signature_delta", "signature", res.signature) || !blockStop() {
			return
		}
	}
	if len(a.calls) > 0 {
		for _, tc := range a.calls {
			if !wait() || !blockStart(ant.ContentBlock{Type: "tool_use", ID: anthropicToolID(tc.id), Name: tc.name, Input: json.RawMessage("{}")}) {
				return
			}
			if !delta("input_json_delta", "partial_json", "") {
				return
			}
			for _, frag := range tc.fragments {
				if !sleep(ctx, itl) || !delta("input_json_delta", "partial_json", frag) {
					return
				}
			}
			if !blockStop() {
				return
			}
		}
	} else {
		empty := ""
		if !blockStart(ant.ContentBlock{Type: "text", Text: &empty}) {
			return
		}
		for _, tok := range a.tokens {
			if !wait() || !delta("text_delta", "text", tok) {
				return
			}
		}
		if !blockStop() {
			return
		}
	}

	md := anthropicStreamDelta{Type: ant.EventMessageDelta}
	md.Delta.StopReason = &res.stopReason
	if res.stopSequence != "" {
		md.Delta.StopSequence = &res.stopSequence
	}
	in, cw, cr := int64(res.input), int64(res.cacheWrite), int64(0)
	md.Usage = ant.DeltaUsage{OutputTokens: int64(res.output), InputTokens: &in, CacheCreationInputTokens: &cw, CacheReadInputTokens: &cr}
	if !anthropicSend(e, ant.EventMessageDelta, &md) {
		return
	}
	if !e.end() {
		return
	}
	c.complete(res.input, res.output)
	e.buf = append(e.buf[:0], "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
	e.write(e.buf)
}

// antSSE is the sse writer with the mid-stream error event of a fault.
type antSSE struct {
	*sse
	errAt    int
	errEvent []byte
}

// send sends the event in buf; once errAt events are out it sends the
// error event instead of going on, and reports false.
func (e *antSSE) send() bool {
	if !e.sse.send() {
		return false
	}
	if e.errAt > 0 && e.sent >= e.errAt {
		e.write(e.errEvent)
		return false
	}
	return true
}

// anthropicSend sends one named event.
func anthropicSend(e *antSSE, name string, v any) bool {
	b, _ := json.Marshal(v)
	e.buf = append(e.buf, "event: "...)
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, "\ndata: "...)
	e.buf = append(e.buf, b...)
	e.buf = append(e.buf, "\n\n"...)
	return e.send()
}
