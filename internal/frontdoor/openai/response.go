package openai

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
	"github.com/causeway-ai/causeway/internal/sse"
)

// ChunkEncoder turns canonical events into chat.completion.chunk SSE
// events.
type ChunkEncoder struct {
	ID           string
	Model        string
	Created      int64
	Fingerprint  string
	IncludeUsage bool
	// toolIdx maps (choice, canonical tool index) to the OpenAI index; for
	// OpenAI-family upstreams they are the same.
	chunk wire.ChatChunk
	one   [1]wire.ChunkChoice
	tc    [1]wire.ToolCall
	// prefix and suffix frame a text delta; built on first use, they give
	// the same bytes json.Marshal would (a test holds them to it).
	prefix, suffix []byte
}

// textChunk appends a text-delta chunk without reflection: a stream has
// one per token.
func (e *ChunkEncoder) textChunk(dst []byte, choice int, text string) []byte {
	if e.prefix == nil {
		id, _ := json.Marshal(e.ID)
		model, _ := json.Marshal(e.Model)
		e.prefix = append(e.prefix, `{"id":`...)
		e.prefix = append(e.prefix, id...)
		e.prefix = append(e.prefix, `,"object":"chat.completion.chunk","created":`...)
		e.prefix = strconv.AppendInt(e.prefix, e.Created, 10)
		e.prefix = append(e.prefix, `,"model":`...)
		e.prefix = append(e.prefix, model...)
		e.prefix = append(e.prefix, `,"choices":[{"index":`...)
		e.suffix = append(e.suffix, `},"finish_reason":null}]`...)
		if e.Fingerprint != "" {
			fp, _ := json.Marshal(e.Fingerprint)
			e.suffix = append(e.suffix, `,"system_fingerprint":`...)
			e.suffix = append(e.suffix, fp...)
		}
		e.suffix = append(e.suffix, '}')
	}
	t, err := json.Marshal(text)
	if err != nil {
		return dst
	}
	dst = append(dst, "data: "...)
	dst = append(dst, e.prefix...)
	dst = strconv.AppendInt(dst, int64(choice), 10)
	dst = append(dst, `,"delta":{"content":`...)
	dst = append(dst, t...)
	dst = append(dst, e.suffix...)
	return append(dst, '\n', '\n')
}

// Annotations the door writes back under their upstream names (Azure
// OpenAI's content filter verdicts): one for the response, the others for
// a choice. Other providers' annotations have no OpenAI counterpart.
const annPromptFilter = "prompt_filter_results"

var annChoice = [...]string{"content_filter_results", "content_filter_offsets"}

// annotatedChunk is a chunk with Azure's annotations. Only annotated
// events use it, so that every other chunk keeps its exact bytes.
type annotatedChunk struct {
	wire.ChatChunk
	Choices             []annotatedChunkChoice `json:"choices"`
	PromptFilterResults json.RawMessage        `json:"prompt_filter_results,omitempty"`
}

type annotatedChunkChoice struct {
	wire.ChunkChoice
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
	ContentFilterOffsets json.RawMessage `json:"content_filter_offsets,omitempty"`
}

func hasAnnotations(m map[string]json.RawMessage) bool {
	if m[annPromptFilter] != nil {
		return true
	}
	for _, k := range annChoice {
		if m[k] != nil {
			return true
		}
	}
	return false
}

// Encode appends the SSE encoding of ev to dst. Events with no OpenAI
// counterpart append nothing.
func (e *ChunkEncoder) Encode(dst []byte, ev *llm.Event) []byte {
	c := &e.chunk
	*c = wire.ChatChunk{ID: e.ID, Object: "chat.completion.chunk", Created: e.Created, Model: e.Model, SystemFingerprint: e.Fingerprint}
	e.one[0] = wire.ChunkChoice{Index: ev.Choice}
	ch := &e.one[0]
	annotated := len(ev.Annotations) > 0 && hasAnnotations(ev.Annotations)
	switch ev.Type {
	case llm.EventStart:
		if !annotated || ev.Annotations[annPromptFilter] == nil {
			return dst
		}
		b, _ := json.Marshal(&annotatedChunk{ChatChunk: *c, Choices: []annotatedChunkChoice{}, PromptFilterResults: ev.Annotations[annPromptFilter]})
		return sse.AppendData(dst, b)
	case llm.EventRole:
		empty := ""
		ch.Delta.Role = "assistant"
		ch.Delta.Content = &empty
	case llm.EventText:
		if !annotated {
			return e.textChunk(dst, ev.Choice, ev.Text)
		}
		text := ev.Text
		ch.Delta.Content = &text
	case llm.EventRefusal:
		text := ev.Text
		ch.Delta.Refusal = &text
	case llm.EventReasoning:
		ch.Delta.ReasoningContent = ev.Text
	case llm.EventToolCall:
		idx := ev.ToolIndex
		e.tc[0] = wire.ToolCall{Index: &idx, ID: ev.ToolCall.ID, Function: wire.FunctionCall{Name: ev.ToolCall.Name, Arguments: ev.ToolCall.Arguments}}
		if ev.ToolCall.ID != "" {
			e.tc[0].Type = "function"
		}
		ch.Delta.ToolCalls = e.tc[:]
	case llm.EventFinish:
		fr := string(ev.FinishReason)
		ch.FinishReason = &fr
	case llm.EventUsage:
		if !e.IncludeUsage {
			return dst
		}
		c.Choices = []wire.ChunkChoice{}
		c.Usage = usageToWire(ev.Usage)
		b, _ := json.Marshal(c)
		return sse.AppendData(dst, b)
	default:
		return dst
	}
	if annotated {
		ac := annotatedChunkChoice{ChunkChoice: *ch, ContentFilterResults: ev.Annotations[annChoice[0]], ContentFilterOffsets: ev.Annotations[annChoice[1]]}
		b, _ := json.Marshal(&annotatedChunk{ChatChunk: *c, Choices: []annotatedChunkChoice{ac}, PromptFilterResults: ev.Annotations[annPromptFilter]})
		return sse.AppendData(dst, b)
	}
	c.Choices = e.one[:]
	b, _ := json.Marshal(c)
	return sse.AppendData(dst, b)
}

// Done appends the terminating [DONE] event.
func Done(dst []byte) []byte { return append(dst, "data: [DONE]\n\n"...) }

// StreamError appends an in-stream error event: OpenAI's error object as
// an SSE data event, after which the stream ends without [DONE].
func StreamError(dst []byte, err error) []byte {
	_, body := errorBody(err)
	b, _ := json.Marshal(body)
	return sse.AppendData(dst, b)
}

func usageToWire(u llm.Usage) *wire.Usage {
	// prompt_tokens is every input token the upstream processed: cache
	// writes are outside canonical InputTokens, so add them back.
	in := u.InputTokens + u.CacheWriteTokens
	return &wire.Usage{
		PromptTokens:            in,
		CompletionTokens:        u.OutputTokens,
		TotalTokens:             in + u.OutputTokens,
		PromptTokensDetails:     &wire.PromptTokensDetails{CachedTokens: u.CachedInputTokens},
		CompletionTokensDetails: &wire.CompletionTokensDetails{ReasoningTokens: u.ReasoningTokens},
	}
}

// Collector builds a whole chat.completion from canonical events.
type Collector struct {
	resp    wire.ChatResponse
	text    []strings.Builder
	refusal []strings.Builder
	reason  []strings.Builder
	tools   [][]llm.ToolCall
	finish  []string
	usage   *llm.Usage
	// promptFilter and choiceAnn are the upstream's annotations.
	promptFilter json.RawMessage
	choiceAnn    []map[string]json.RawMessage
}

// Response is a whole chat.completion with the upstream's annotations
// (Azure's prompt_filter_results and each choice's
// content_filter_results), which it marshals under their own names.
type Response struct {
	*wire.ChatResponse
	promptFilter json.RawMessage
	choiceAnn    []map[string]json.RawMessage
}

type annotatedResponse struct {
	*wire.ChatResponse
	Choices             []annotatedChoice `json:"choices"`
	PromptFilterResults json.RawMessage   `json:"prompt_filter_results,omitempty"`
}

type annotatedChoice struct {
	wire.Choice
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
	ContentFilterOffsets json.RawMessage `json:"content_filter_offsets,omitempty"`
}

// MarshalJSON writes the response; without annotations, exactly as
// wire.ChatResponse marshals.
func (r *Response) MarshalJSON() ([]byte, error) {
	annotated := r.promptFilter != nil
	for _, m := range r.choiceAnn {
		annotated = annotated || len(m) > 0
	}
	if !annotated {
		return json.Marshal(r.ChatResponse)
	}
	out := annotatedResponse{ChatResponse: r.ChatResponse, Choices: make([]annotatedChoice, len(r.Choices)), PromptFilterResults: r.promptFilter}
	for i, c := range r.Choices {
		out.Choices[i].Choice = c
		if i < len(r.choiceAnn) {
			out.Choices[i].ContentFilterResults = r.choiceAnn[i][annChoice[0]]
			out.Choices[i].ContentFilterOffsets = r.choiceAnn[i][annChoice[1]]
		}
	}
	return json.Marshal(&out)
}

// NewCollector starts a response with the given id, model and time.
func NewCollector(id, model string, created int64) *Collector {
	return &Collector{resp: wire.ChatResponse{ID: id, Object: "chat.completion", Created: created, Model: model}}
}

func (c *Collector) grow(i int) {
	for len(c.text) <= i {
		c.text = append(c.text, strings.Builder{})
		c.refusal = append(c.refusal, strings.Builder{})
		c.reason = append(c.reason, strings.Builder{})
		c.tools = append(c.tools, nil)
		c.finish = append(c.finish, "")
		c.choiceAnn = append(c.choiceAnn, nil)
	}
}

// Add folds one event into the response.
func (c *Collector) Add(ev *llm.Event) {
	if ev.Type == llm.EventUsage {
		u := ev.Usage
		c.usage = &u
		return
	}
	if v := ev.Annotations[annPromptFilter]; v != nil {
		c.promptFilter = v
	}
	if ev.Type == llm.EventStart {
		if ev.SystemFingerprint != "" {
			c.resp.SystemFingerprint = ev.SystemFingerprint
		}
		return
	}
	if ev.Choice < 0 || ev.Choice > 127 {
		return
	}
	c.grow(ev.Choice)
	i := ev.Choice
	for _, k := range annChoice {
		if v := ev.Annotations[k]; v != nil {
			if c.choiceAnn[i] == nil {
				c.choiceAnn[i] = make(map[string]json.RawMessage, 1)
			}
			c.choiceAnn[i][k] = v
		}
	}
	switch ev.Type {
	case llm.EventText:
		c.text[i].WriteString(ev.Text)
	case llm.EventRefusal:
		c.refusal[i].WriteString(ev.Text)
	case llm.EventReasoning:
		c.reason[i].WriteString(ev.Text)
	case llm.EventToolCall:
		for len(c.tools[i]) <= ev.ToolIndex {
			c.tools[i] = append(c.tools[i], llm.ToolCall{})
		}
		tc := &c.tools[i][ev.ToolIndex]
		if ev.ToolCall.ID != "" {
			tc.ID = ev.ToolCall.ID
		}
		if ev.ToolCall.Name != "" {
			tc.Name = ev.ToolCall.Name
		}
		tc.Arguments += ev.ToolCall.Arguments
	case llm.EventFinish:
		c.finish[i] = string(ev.FinishReason)
	}
}

// Usage returns the usage seen, if any.
func (c *Collector) Usage() *llm.Usage { return c.usage }

// Response returns the collected chat.completion.
func (c *Collector) Response() *Response {
	c.grow(0)
	c.resp.Choices = make([]wire.Choice, len(c.text))
	for i := range c.text {
		m := wire.ResponseMessage{Role: "assistant", ReasoningContent: c.reason[i].String()}
		if c.text[i].Len() > 0 || len(c.tools[i]) == 0 {
			s := c.text[i].String()
			m.Content = &s
		}
		if c.refusal[i].Len() > 0 {
			s := c.refusal[i].String()
			m.Refusal = &s
		}
		for _, tc := range c.tools[i] {
			m.ToolCalls = append(m.ToolCalls, wire.ToolCall{ID: tc.ID, Type: "function", Function: wire.FunctionCall{Name: tc.Name, Arguments: tc.Arguments}})
		}
		fr := c.finish[i]
		if fr == "" {
			fr = "stop"
		}
		c.resp.Choices[i] = wire.Choice{Index: i, Message: m, FinishReason: fr}
	}
	if c.usage != nil {
		c.resp.Usage = usageToWire(*c.usage)
	}
	return &Response{ChatResponse: &c.resp, promptFilter: c.promptFilter, choiceAnn: c.choiceAnn}
}

// StatusOf maps an error to the status code OpenAI would use.
func StatusOf(err error) int {
	st, _ := errorBody(err)
	return st
}

// errorBody maps an error to OpenAI's status and error envelope. This is
// the one place the door turns Kinds into wire errors.
func errorBody(err error) (int, wire.ErrorBody) {
	e := llm.AsError(err)
	var status int
	var typ, code string
	switch e.Kind {
	case llm.KindInvalid:
		status, typ = http.StatusBadRequest, "invalid_request_error"
	case llm.KindUnauthenticated:
		status, typ, code = http.StatusUnauthorized, "invalid_request_error", "invalid_api_key"
	case llm.KindPermission:
		status, typ, code = http.StatusForbidden, "permission_error", "model_not_allowed"
	case llm.KindNotFound:
		status, typ, code = http.StatusNotFound, "invalid_request_error", "model_not_found"
	case llm.KindTooLarge:
		status, typ, code = http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large"
	case llm.KindRateLimited:
		status, typ, code = http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded"
	case llm.KindBudgetExceeded:
		status, typ, code = http.StatusTooManyRequests, "insufficient_quota", "budget_exceeded"
	case llm.KindUpstream:
		status, typ, code = http.StatusBadGateway, "api_error", "upstream_error"
	case llm.KindUnavailable:
		status, typ, code = http.StatusBadGateway, "api_error", "upstream_unavailable"
	case llm.KindTimeout:
		status, typ, code = http.StatusGatewayTimeout, "timeout_error", "upstream_timeout"
	case llm.KindCanceled:
		status, typ, code = 499, "invalid_request_error", "client_closed_request"
	case llm.KindNoRoute:
		status, typ, code = http.StatusServiceUnavailable, "api_error", "no_available_target"
	default:
		status, typ, code = http.StatusInternalServerError, "server_error", "internal_error"
	}
	if e.Code != "" {
		code = e.Code
	}
	body := wire.ErrorBody{Error: wire.ErrorDetail{Message: e.Message, Type: typ}}
	if code != "" {
		body.Error.Code = &code
	}
	if e.Param != "" {
		p := e.Param
		body.Error.Param = &p
	}
	return status, body
}

// WriteError writes err in OpenAI's error shape with its status.
func WriteError(w http.ResponseWriter, err error) {
	status, body := errorBody(err)
	if e := llm.AsError(err); e.RetryAfter > 0 && status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", itoa(int64((e.RetryAfter+999_999_999)/1e9)))
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"message":"internal error encoding response","type":"server_error","param":null,"code":null}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", itoa(int64(len(b))))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
