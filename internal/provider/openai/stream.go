package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
	"github.com/causeway-ai/causeway/internal/sse"
)

// sliceStream yields events decoded from a whole response.
type sliceStream struct {
	events []llm.Event
}

func (s *sliceStream) Next() (llm.Event, error) {
	if len(s.events) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.events[0]
	s.events = s.events[1:]
	return ev, nil
}

func (s *sliceStream) Close() error { return nil }

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
	ctx     context.Context
	cancel  context.CancelFunc
	wd      *watchdog
	body    io.ReadCloser
	r       *sse.Reader
	queue   []llm.Event
	qi      int
	started bool
	roles   uint64 // bit per choice index < 64 whose role was announced
	done    bool
	chunk   wire.ChatChunk
}

var doneMarker = []byte("[DONE]")

func (s *stream) Next() (llm.Event, error) {
	for {
		if s.qi < len(s.queue) {
			ev := s.queue[s.qi]
			s.qi++
			return ev, nil
		}
		if s.done {
			return llm.Event{}, io.EOF
		}
		s.queue, s.qi = s.queue[:0], 0
		ev, err := s.r.Next()
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				if s.ctx.Err() != nil {
					return llm.Event{}, s.wd.explain(s.ctx, s.ctx.Err())
				}
				return llm.Event{}, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream stream ended without [DONE]"}
			}
			return llm.Event{}, s.wd.explain(s.ctx, err)
		}
		s.wd.tick()
		if bytes.Equal(ev.Data, doneMarker) {
			s.done = true
			continue
		}
		if err := s.decode(ev.Data); err != nil {
			return llm.Event{}, err
		}
	}
}

func (s *stream) decode(data []byte) error {
	// An error object mid-stream ends the stream with that error.
	if bytes.HasPrefix(data, []byte(`{"error"`)) {
		var eb wire.ErrorBody
		if json.Unmarshal(data, &eb) == nil {
			return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream reported an error mid-stream: " + eb.Error.Message}
		}
	}
	c := &s.chunk
	*c = wire.ChatChunk{}
	if err := json.Unmarshal(data, c); err != nil {
		return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a malformed stream chunk", Err: err}
	}
	if !s.started {
		s.started = true
		s.queue = append(s.queue, llm.Event{Type: llm.EventStart, ID: c.ID, Model: c.Model, Created: c.Created, SystemFingerprint: c.SystemFingerprint})
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		d := &ch.Delta
		if ch.Index >= 0 && ch.Index < 64 && s.roles&(1<<ch.Index) == 0 {
			s.roles |= 1 << ch.Index
			s.queue = append(s.queue, llm.Event{Type: llm.EventRole, Choice: ch.Index})
		}
		if d.ReasoningContent != "" {
			s.queue = append(s.queue, llm.Event{Type: llm.EventReasoning, Choice: ch.Index, Text: d.ReasoningContent})
		}
		if d.Content != nil && *d.Content != "" {
			s.queue = append(s.queue, llm.Event{Type: llm.EventText, Choice: ch.Index, Text: *d.Content})
		}
		if d.Refusal != nil && *d.Refusal != "" {
			s.queue = append(s.queue, llm.Event{Type: llm.EventRefusal, Choice: ch.Index, Text: *d.Refusal})
		}
		for j, tc := range d.ToolCalls {
			idx := j
			if tc.Index != nil {
				idx = *tc.Index
			}
			s.queue = append(s.queue, llm.Event{Type: llm.EventToolCall, Choice: ch.Index, ToolIndex: idx,
				ToolCall: llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.queue = append(s.queue, llm.Event{Type: llm.EventFinish, Choice: ch.Index, FinishReason: llm.FinishReason(*ch.FinishReason)})
		}
	}
	if c.Usage != nil {
		s.queue = append(s.queue, llm.Event{Type: llm.EventUsage, Usage: usageFromWire(c.Usage)})
	}
	return nil
}

func (s *stream) Close() error {
	s.wd.stop()
	s.cancel()
	return s.body.Close()
}

// DecodeStream decodes an OpenAI-format SSE stream with no timeouts; the
// golden translation tests use it.
func DecodeStream(r io.Reader) llm.Stream {
	ctx, cancel := context.WithCancel(context.Background())
	return &stream{ctx: ctx, cancel: cancel, wd: newWatchdog(time.Hour, time.Hour, cancel),
		body: io.NopCloser(r), r: sse.NewReader(r, 1<<20)}
}

// DecodeResponse decodes a whole chat.completion body into events.
func DecodeResponse(body []byte) ([]llm.Event, error) {
	var w wire.ChatResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned a response that is not valid chat completion JSON", Err: err}
	}
	return wholeEvents(&w), nil
}
