package anthropic

import (
	"encoding/json"
	"io"

	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
	wire "github.com/causeway-ai/causeway/internal/schema/anthropic"
	"github.com/causeway-ai/causeway/internal/sse"
)

// finishReason maps Anthropic's stop_reason.
func finishReason(r string, jsonMode, sawTool bool) llm.FinishReason {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return llm.FinishLength
	case "tool_use":
		if jsonMode && !sawTool {
			return llm.FinishStop
		}
		return llm.FinishToolCalls
	case "refusal":
		return llm.FinishContentFilter
	}
	// end_turn, stop_sequence, pause_turn and anything newer.
	return llm.FinishStop
}

// usage is Anthropic's usage in canonical form.
func usage(in, out, cacheRead, cacheWrite int64) llm.Usage {
	return llm.Usage{InputTokens: in + cacheRead, OutputTokens: out, CachedInputTokens: cacheRead, CacheWriteTokens: cacheWrite}
}

// DecodeResponse decodes a whole Messages response into events; jsonMode
// says the request carried response_format through the json_output tool.
func DecodeResponse(body []byte, jsonMode bool) ([]llm.Event, error) {
	return decodeResponse(body, jsonMode)
}

func decodeResponse(body []byte, jsonMode bool) ([]llm.Event, error) {
	var w wire.MessagesResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned a response that is not valid Messages JSON", Err: err}
	}
	if w.Type != "" && w.Type != "message" {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned an object of type " + w.Type + " instead of a message"}
	}
	evs := make([]llm.Event, 0, 4+len(w.Content))
	evs = append(evs, llm.Event{Type: llm.EventStart, ID: w.ID, Model: w.Model}, llm.Event{Type: llm.EventRole})
	tools := 0
	for _, b := range w.Content {
		switch b.Type {
		case "text":
			if b.Text != nil && *b.Text != "" {
				evs = append(evs, llm.Event{Type: llm.EventText, Text: *b.Text})
			}
		case "thinking":
			ev := llm.Event{Type: llm.EventReasoning}
			if b.Thinking != nil {
				ev.Text = *b.Thinking
			}
			if b.Signature != nil {
				ev.Signature = *b.Signature
			}
			evs = append(evs, ev)
		case "redacted_thinking":
			evs = append(evs, llm.Event{Type: llm.EventRedactedReasoning, Text: b.Data})
		case "tool_use":
			input := string(b.Input)
			if len(b.Input) == 0 {
				input = "{}"
			}
			if jsonMode && b.Name == JSONToolName {
				evs = append(evs, llm.Event{Type: llm.EventText, Text: input})
				continue
			}
			evs = append(evs, llm.Event{Type: llm.EventToolCall, ToolIndex: tools,
				ToolCall: llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: input}})
			tools++
		}
	}
	fin := llm.Event{Type: llm.EventFinish}
	reason := ""
	if w.StopReason != nil {
		reason = *w.StopReason
	}
	fin.FinishReason = finishReason(reason, jsonMode, tools > 0)
	if w.StopSequence != nil {
		fin.StopSequence = *w.StopSequence
	}
	evs = append(evs, fin, llm.Event{Type: llm.EventUsage, Usage: usage(w.Usage.InputTokens, w.Usage.OutputTokens,
		w.Usage.CacheReadInputTokens, w.Usage.CacheCreationInputTokens)})
	return evs, nil
}

// block kinds of an open content block.
const (
	blockOther uint8 = iota
	blockText
	blockTool
	blockJSON
	blockThinking
)

// stream decodes an upstream SSE stream into canonical events.
type stream struct {
	call     *upstream.Call
	r        *sse.Reader
	jsonMode bool
	q        upstream.Queue
	started  bool
	done     bool
	// blocks maps a content block index to its kind, for tool calls the
	// call's canonical ToolIndex, and whether input fragments came.
	blocks  map[int64][3]int
	tools   int
	reason  string
	stopSeq string
	// usage counts, as Anthropic reports them.
	in, out, cacheRead, cacheWrite int64
}

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
			return llm.Event{}, s.call.Cut(err, "the upstream stream ended without message_stop")
		}
		s.call.Tick()
		if err := s.decode(ev.Name, ev.Data); err != nil {
			s.done = true
			return llm.Event{}, err
		}
	}
}

func bad(msg string) error { return &llm.Error{Kind: llm.KindUpstream, Message: msg} }

// decode turns one SSE event into canonical events. The SSE event name and
// the data's type agree on Anthropic's wire; the data's type decides.
func (s *stream) decode(name string, data []byte) error {
	if !gjson.ValidBytes(data) {
		return bad("the upstream sent a malformed stream event")
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return bad("the upstream sent a stream event that is not a JSON object")
	}
	typ := root.Get("type").String()
	if typ == "" {
		typ = name
	}
	if typ != wire.EventMessageStart && typ != wire.EventPing && typ != wire.EventError && !s.started {
		return bad("the upstream stream did not begin with message_start")
	}
	switch typ {
	case wire.EventPing:
	case wire.EventError:
		e := root.Get("error")
		msg := e.Get("message").String()
		if msg == "" {
			msg = e.Raw
		}
		kind := llm.KindUpstream
		if e.Get("type").String() == "rate_limit_error" {
			kind = llm.KindRateLimited
		}
		return &llm.Error{Kind: kind, Message: "the upstream reported an error mid-stream: " + msg}
	case wire.EventMessageStart:
		if s.started {
			return bad("the upstream sent a second message_start")
		}
		s.started = true
		s.blocks = make(map[int64][3]int)
		m := root.Get("message")
		u := m.Get("usage")
		s.in = u.Get("input_tokens").Int()
		s.out = u.Get("output_tokens").Int()
		s.cacheRead = u.Get("cache_read_input_tokens").Int()
		s.cacheWrite = u.Get("cache_creation_input_tokens").Int()
		s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventStart, ID: m.Get("id").String(), Model: m.Get("model").String()},
			llm.Event{Type: llm.EventRole})
	case wire.EventContentBlockStart:
		idx := root.Get("index")
		if idx.Type != gjson.Number {
			return bad("the upstream sent content_block_start without an index")
		}
		if _, dup := s.blocks[idx.Int()]; dup {
			return bad("the upstream started content block " + idx.Raw + " twice")
		}
		if len(s.blocks) >= 4096 {
			return bad("the upstream sent too many content blocks")
		}
		cb := root.Get("content_block")
		switch cb.Get("type").String() {
		case "text":
			s.blocks[idx.Int()] = [3]int{int(blockText)}
			if t := cb.Get("text").String(); t != "" {
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventText, Text: t})
			}
		case "tool_use":
			name := cb.Get("name").String()
			if s.jsonMode && name == JSONToolName {
				s.blocks[idx.Int()] = [3]int{int(blockJSON)}
				break
			}
			s.blocks[idx.Int()] = [3]int{int(blockTool), s.tools}
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventToolCall, ToolIndex: s.tools,
				ToolCall: llm.ToolCall{ID: cb.Get("id").String(), Name: name}})
			s.tools++
		case "thinking":
			s.blocks[idx.Int()] = [3]int{int(blockThinking)}
			if t := cb.Get("thinking").String(); t != "" {
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventReasoning, Text: t})
			}
		case "redacted_thinking":
			s.blocks[idx.Int()] = [3]int{int(blockOther)}
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventRedactedReasoning, Text: cb.Get("data").String()})
		default:
			// Server tool blocks and newer kinds carry nothing a chat
			// client can show.
			s.blocks[idx.Int()] = [3]int{int(blockOther)}
		}
	case wire.EventContentBlockDelta:
		blk, ok := s.blocks[root.Get("index").Int()]
		if !ok || root.Get("index").Type != gjson.Number {
			return bad("the upstream sent a delta for a content block it had not started")
		}
		d := root.Get("delta")
		switch d.Get("type").String() {
		case "text_delta":
			if t := d.Get("text").String(); t != "" {
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventText, Text: t})
			}
		case "input_json_delta":
			frag := d.Get("partial_json").String()
			if frag == "" {
				break
			}
			blk[2] = 1
			s.blocks[root.Get("index").Int()] = blk
			switch uint8(blk[0]) {
			case blockTool:
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventToolCall, ToolIndex: blk[1], ToolCall: llm.ToolCall{Arguments: frag}})
			case blockJSON:
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventText, Text: frag})
			}
		case "thinking_delta":
			if t := d.Get("thinking").String(); t != "" {
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventReasoning, Text: t})
			}
		case "signature_delta":
			if sig := d.Get("signature").String(); sig != "" {
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventReasoning, Signature: sig})
			}
		}
	case wire.EventContentBlockStop:
		// A call without arguments streams none: its input is {}.
		if blk, ok := s.blocks[root.Get("index").Int()]; ok && blk[2] == 0 {
			switch uint8(blk[0]) {
			case blockTool:
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventToolCall, ToolIndex: blk[1], ToolCall: llm.ToolCall{Arguments: "{}"}})
			case blockJSON:
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventText, Text: "{}"})
			}
			blk[2] = 1
			s.blocks[root.Get("index").Int()] = blk
		}
	case wire.EventMessageDelta:
		d := root.Get("delta")
		if v := d.Get("stop_reason"); v.Type == gjson.String {
			s.reason = v.Str
		}
		if v := d.Get("stop_sequence"); v.Type == gjson.String {
			s.stopSeq = v.Str
		}
		u := root.Get("usage")
		if v := u.Get("output_tokens"); v.Exists() {
			s.out = v.Int()
		}
		if v := u.Get("input_tokens"); v.Type == gjson.Number {
			s.in = v.Int()
		}
		if v := u.Get("cache_read_input_tokens"); v.Type == gjson.Number {
			s.cacheRead = v.Int()
		}
		if v := u.Get("cache_creation_input_tokens"); v.Type == gjson.Number {
			s.cacheWrite = v.Int()
		}
	case wire.EventMessageStop:
		s.done = true
		s.q.Events = append(s.q.Events,
			llm.Event{Type: llm.EventFinish, FinishReason: finishReason(s.reason, s.jsonMode, s.tools > 0), StopSequence: s.stopSeq},
			llm.Event{Type: llm.EventUsage, Usage: usage(s.in, s.out, s.cacheRead, s.cacheWrite)})
	default:
		// Anthropic may add event types; they are ignored.
	}
	return nil
}

// Buffered reports whether more of the stream has already arrived, so the
// door can write it out together with what it has.
func (s *stream) Buffered() bool { return s.q.Held() || s.r.Buffered() > 0 }

func (s *stream) Close() error { return s.call.Close() }

// DecodeStream decodes an Anthropic SSE stream with no timeouts; the golden
// translation tests and the fuzzer use it.
func DecodeStream(r io.Reader, jsonMode bool) llm.Stream {
	return &stream{call: upstream.Unbounded(r), r: sse.NewReader(r, 1<<20), jsonMode: jsonMode}
}
