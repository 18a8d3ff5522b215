package openai

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
	"github.com/causeway-ai/causeway/internal/sse"
)

func usageFromWire(u *wire.Usage) llm.Usage {
	out := llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
	if d := u.PromptTokensDetails; d != nil {
		out.CachedInputTokens = d.CachedTokens
	}
	if d := u.CompletionTokensDetails; d != nil {
		out.ReasoningTokens = d.ReasoningTokens
	}
	return out
}

// wholeEvents turns a whole chat.completion into canonical events.
func wholeEvents(w *wire.ChatResponse) []llm.Event {
	evs := make([]llm.Event, 0, 2+4*len(w.Choices))
	evs = append(evs, llm.Event{Type: llm.EventStart, ID: w.ID, Model: w.Model, Created: w.Created, SystemFingerprint: w.SystemFingerprint})
	for _, c := range w.Choices {
		evs = append(evs, llm.Event{Type: llm.EventRole, Choice: c.Index})
		if c.Message.ReasoningContent != "" {
			evs = append(evs, llm.Event{Type: llm.EventReasoning, Choice: c.Index, Text: c.Message.ReasoningContent})
		}
		if c.Message.Content != nil && *c.Message.Content != "" {
			evs = append(evs, llm.Event{Type: llm.EventText, Choice: c.Index, Text: *c.Message.Content})
		}
		if c.Message.Refusal != nil && *c.Message.Refusal != "" {
			evs = append(evs, llm.Event{Type: llm.EventRefusal, Choice: c.Index, Text: *c.Message.Refusal})
		}
		for i, tc := range c.Message.ToolCalls {
			evs = append(evs, llm.Event{Type: llm.EventToolCall, Choice: c.Index, ToolIndex: i,
				ToolCall: llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
		}
		fr := c.FinishReason
		if fr == "" {
			fr = "stop"
		}
		evs = append(evs, llm.Event{Type: llm.EventFinish, Choice: c.Index, FinishReason: llm.FinishReason(fr)})
	}
	if w.Usage != nil {
		evs = append(evs, llm.Event{Type: llm.EventUsage, Usage: usageFromWire(w.Usage)})
	}
	return evs
}

// stream decodes an upstream SSE stream into canonical events.
type stream struct {
	call    *upstream.Call
	r       *sse.Reader
	q       upstream.Queue
	started bool
	roles   uint64 // bit per choice index < 64 whose role was announced
	done    bool
	// startAnn holds annotations of chunks that came before the first
	// chunk with an id (Azure opens with the prompt's filter results).
	startAnn map[string]json.RawMessage
	// pending holds a choice's annotations that came in a chunk with no
	// event for that choice, for its next event.
	pending map[int]map[string]json.RawMessage
}

// Annotation names: Azure OpenAI's content filter verdicts, surfaced as
// they are (see llm.Event.Annotations). prompt_filter_results belongs to
// the response, the others to a choice.
const (
	AnnotationPromptFilter = "prompt_filter_results"
)

var choiceAnnotations = [...]string{"content_filter_results", "content_filter_offsets"}

// present reports whether r is a field with a non-null value.
func present(r gjson.Result) bool { return r.Exists() && r.Type != gjson.Null }

func annotate(m map[string]json.RawMessage, key, raw string) map[string]json.RawMessage {
	if m == nil {
		m = make(map[string]json.RawMessage, 1)
	}
	m[key] = json.RawMessage(raw)
	return m
}

func merge(dst, src map[string]json.RawMessage) map[string]json.RawMessage {
	for k, v := range src {
		if dst == nil {
			dst = make(map[string]json.RawMessage, len(src))
		}
		if _, ok := dst[k]; !ok {
			dst[k] = v
		}
	}
	return dst
}

var doneMarker = []byte("[DONE]")

func (s *stream) Next() (llm.Event, error) {
	for {
		if ev, ok := s.q.Pop(); ok {
			return ev, nil
		}
		if s.done {
			return llm.Event{}, io.EOF
		}
		s.q.Clear()
		ev, err := s.r.Next()
		if err != nil {
			return llm.Event{}, s.call.Cut(err, "the upstream stream ended without [DONE]")
		}
		s.call.Tick()
		if bytes.Equal(ev.Data, doneMarker) {
			s.done = true
			continue
		}
		if err := s.decode(ev.Data); err != nil {
			return llm.Event{}, err
		}
	}
}

// decode turns one chunk into events. It reads the chunk with gjson rather
// than encoding/json: a stream has one chunk per token, and decoding into
// structs by reflection was the gateway's largest cost per chunk.
func (s *stream) decode(data []byte) error {
	if !gjson.ValidBytes(data) {
		return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a malformed stream chunk"}
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a stream chunk that is not a JSON object"}
	}
	// An error object mid-stream ends the stream with that error.
	if e := root.Get("error"); e.Exists() && e.Type != gjson.Null {
		msg := e.Get("message").String()
		if msg == "" {
			msg = e.Raw
		}
		return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream reported an error mid-stream: " + msg}
	}
	pfr := root.Get(AnnotationPromptFilter)
	if !s.started {
		if root.Get("id").String() == "" && len(root.Get("choices").Array()) == 0 && !root.Get("usage").IsObject() {
			// Azure's first chunk has no id, model or choices: only the
			// prompt's filter results. The stream starts with the next.
			if present(pfr) {
				s.startAnn = annotate(s.startAnn, AnnotationPromptFilter, pfr.Raw)
			}
			return nil
		}
		s.started = true
		ev := llm.Event{Type: llm.EventStart, ID: root.Get("id").String(), Model: root.Get("model").String(),
			Created: root.Get("created").Int(), SystemFingerprint: root.Get("system_fingerprint").String(), Annotations: s.startAnn}
		if present(pfr) {
			ev.Annotations = annotate(ev.Annotations, AnnotationPromptFilter, pfr.Raw)
		}
		s.q.Events = append(s.q.Events, ev)
		s.startAnn = nil
	} else if present(pfr) {
		// Late prompt filter results ride on this chunk's first event.
		defer func(at int) {
			if at < len(s.q.Events) {
				s.q.Events[at].Annotations = annotate(s.q.Events[at].Annotations, AnnotationPromptFilter, pfr.Raw)
			}
		}(len(s.q.Events))
	}
	var bad error
	root.Get("choices").ForEach(func(_, ch gjson.Result) bool {
		idx := int(ch.Get("index").Int())
		if idx < 0 || idx > 127 {
			bad = &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a stream chunk with an out-of-range choice index"}
			return false
		}
		first := len(s.q.Events)
		if idx < 64 && s.roles&(1<<idx) == 0 {
			s.roles |= 1 << idx
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventRole, Choice: idx})
		}
		defer s.annotateChoice(ch, idx, first)
		d := ch.Get("delta")
		if v := d.Get("reasoning_content"); v.Type == gjson.String && v.Str != "" {
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventReasoning, Choice: idx, Text: v.Str})
		}
		if v := d.Get("content"); v.Type == gjson.String && v.Str != "" {
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventText, Choice: idx, Text: v.Str})
		}
		if v := d.Get("refusal"); v.Type == gjson.String && v.Str != "" {
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventRefusal, Choice: idx, Text: v.Str})
		}
		j := 0
		d.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
			ti := j
			if v := tc.Get("index"); v.Exists() {
				ti = int(v.Int())
			}
			j++
			if ti < 0 || ti > 1023 {
				bad = &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a tool call with an out-of-range index"}
				return false
			}
			fn := tc.Get("function")
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventToolCall, Choice: idx, ToolIndex: ti,
				ToolCall: llm.ToolCall{ID: tc.Get("id").String(), Name: fn.Get("name").String(), Arguments: fn.Get("arguments").String()}})
			return true
		})
		if v := ch.Get("finish_reason"); v.Type == gjson.String && v.Str != "" {
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventFinish, Choice: idx, FinishReason: llm.FinishReason(v.Str)})
		}
		return bad == nil
	})
	if bad != nil {
		return bad
	}
	if u := root.Get("usage"); u.IsObject() {
		s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventUsage, Usage: llm.Usage{
			InputTokens:       u.Get("prompt_tokens").Int(),
			OutputTokens:      u.Get("completion_tokens").Int(),
			CachedInputTokens: u.Get("prompt_tokens_details.cached_tokens").Int(),
			ReasoningTokens:   u.Get("completion_tokens_details.reasoning_tokens").Int(),
		}})
	}
	return nil
}

// annotateChoice attaches a choice's annotations in ch to the last event
// the chunk gave that choice (events from first on), or holds them for the
// choice's next event; held ones go on the first event.
func (s *stream) annotateChoice(ch gjson.Result, idx, first int) {
	var ann map[string]json.RawMessage
	for _, k := range choiceAnnotations {
		if v := ch.Get(k); present(v) {
			ann = annotate(ann, k, v.Raw)
		}
	}
	if first >= len(s.q.Events) {
		if ann != nil {
			if s.pending == nil {
				s.pending = make(map[int]map[string]json.RawMessage)
			}
			s.pending[idx] = merge(ann, s.pending[idx])
		}
		return
	}
	if held, ok := s.pending[idx]; ok {
		s.q.Events[first].Annotations = merge(s.q.Events[first].Annotations, held)
		delete(s.pending, idx)
	}
	if ann != nil {
		last := &s.q.Events[len(s.q.Events)-1]
		last.Annotations = merge(ann, last.Annotations)
	}
}

// Buffered reports whether more of the stream has already arrived, so the
// door can write it out together with what it has.
func (s *stream) Buffered() bool { return s.q.Held() || s.r.Buffered() > 0 }

func (s *stream) Close() error { return s.call.Close() }

// DecodeStream decodes an OpenAI-format SSE stream with no timeouts; the
// golden translation tests use it.
func DecodeStream(r io.Reader) llm.Stream {
	return &stream{call: upstream.Unbounded(r), r: sse.NewReader(r, 1<<20)}
}

// DecodeResponse decodes a whole chat.completion body into events.
func DecodeResponse(body []byte) ([]llm.Event, error) {
	var w wire.ChatResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned a response that is not valid chat completion JSON", Err: err}
	}
	evs := wholeEvents(&w)
	// Azure's content filter verdicts: the prompt's on the start event,
	// each choice's on its finish event.
	if pfr := gjson.GetBytes(body, AnnotationPromptFilter); present(pfr) {
		evs[0].Annotations = annotate(evs[0].Annotations, AnnotationPromptFilter, pfr.Raw)
	}
	var finish map[int]int // choice index → its finish event
	gjson.GetBytes(body, "choices").ForEach(func(_, ch gjson.Result) bool {
		for _, k := range choiceAnnotations {
			v := ch.Get(k)
			if !present(v) {
				continue
			}
			if finish == nil {
				finish = make(map[int]int)
				for i := range evs {
					if evs[i].Type == llm.EventFinish {
						if _, dup := finish[evs[i].Choice]; !dup {
							finish[evs[i].Choice] = i
						}
					}
				}
			}
			if i, ok := finish[int(ch.Get("index").Int())]; ok {
				evs[i].Annotations = annotate(evs[i].Annotations, k, v.Raw)
			}
		}
		return true
	})
	return evs, nil
}
