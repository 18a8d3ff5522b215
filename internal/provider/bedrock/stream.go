package bedrock

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
	wire "github.com/causeway-ai/causeway/internal/schema/bedrock"
)

// usageFromWire converts Bedrock's counts: its inputTokens exclude cache
// reads and writes, the canonical InputTokens include the reads.
func usageFromWire(u *wire.TokenUsage) llm.Usage {
	return llm.Usage{
		InputTokens:       u.InputTokens + u.CacheReadInputTokens,
		OutputTokens:      u.OutputTokens,
		CachedInputTokens: u.CacheReadInputTokens,
		CacheWriteTokens:  u.CacheWriteInputTokens,
	}
}

// finishReason maps a stop reason; a forced JSON tool's tool_use is a
// normal stop.
func finishReason(stop string, jsonMode bool) llm.FinishReason {
	switch stop {
	case wire.StopToolUse:
		if jsonMode {
			return llm.FinishStop
		}
		return llm.FinishToolCalls
	case wire.StopMaxTokens, "model_context_window_exceeded":
		return llm.FinishLength
	case wire.StopGuardrailIntervened, wire.StopContentFiltered:
		return llm.FinishContentFilter
	}
	return llm.FinishStop
}

// DecodeResponse decodes a whole Converse answer into events. id is the
// request id (x-amzn-RequestId), model the upstream model id.
func DecodeResponse(body []byte, id, model string, jsonMode bool) ([]llm.Event, error) {
	var w wire.ConverseResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned a response that is not valid Converse JSON", Err: err}
	}
	if w.Output.Message == nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned a Converse response without output.message"}
	}
	evs := []llm.Event{{Type: llm.EventStart, ID: id, Model: model, Created: time.Now().Unix()}, {Type: llm.EventRole}}
	tools := 0
	for _, b := range w.Output.Message.Content {
		switch {
		case b.Text != nil:
			if *b.Text != "" {
				evs = append(evs, llm.Event{Type: llm.EventText, Text: *b.Text})
			}
		case b.ReasoningContent != nil:
			rc := b.ReasoningContent
			if rc.ReasoningText != nil {
				evs = append(evs, llm.Event{Type: llm.EventReasoning, Text: rc.ReasoningText.Text, Signature: rc.ReasoningText.Signature})
			} else if len(rc.RedactedContent) > 0 {
				evs = append(evs, llm.Event{Type: llm.EventRedactedReasoning, Text: base64.StdEncoding.EncodeToString(rc.RedactedContent)})
			}
		case b.ToolUse != nil:
			args := compactJSON(b.ToolUse.Input)
			if jsonMode && b.ToolUse.Name == JSONToolName {
				evs = append(evs, llm.Event{Type: llm.EventText, Text: args})
				continue
			}
			evs = append(evs, llm.Event{Type: llm.EventToolCall, ToolIndex: tools,
				ToolCall: llm.ToolCall{ID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Arguments: args}})
			tools++
		}
	}
	evs = append(evs, llm.Event{Type: llm.EventFinish, FinishReason: finishReason(w.StopReason, jsonMode)})
	evs = append(evs, llm.Event{Type: llm.EventUsage, Usage: usageFromWire(&w.Usage)})
	return evs, nil
}

func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return string(raw)
	}
	return out.String()
}

// block is what the decoder remembers of an open content block.
type block struct {
	tool      bool
	toolIndex int
	json      bool // the forced JSON tool: deltas are text
}

// stream decodes a ConverseStream event stream into canonical events.
type stream struct {
	call     *upstream.Call
	r        *bufio.Reader
	dec      *eventstream.Decoder
	buf      []byte
	maxFrame int

	id, model string
	jsonMode  bool

	q       upstream.Queue
	started bool
	blocks  map[int]*block
	tools   int
	stopped bool // messageStop seen
	done    bool // metadata seen: the stream is complete
}

func newStream(call *upstream.Call, id, model string, jsonMode bool, maxFrame int) *stream {
	return &stream{call: call, r: bufio.NewReaderSize(call.Body, 32<<10),
		dec: eventstream.NewDecoder(), maxFrame: maxFrame, id: id, model: model, jsonMode: jsonMode,
		blocks: map[int]*block{}}
}

// DecodeStream decodes a ConverseStream body with no timeouts; the golden
// translation tests and the fuzz target use it.
func DecodeStream(r io.Reader, jsonMode bool) llm.Stream {
	return newStream(upstream.Unbounded(r), "bedrock-golden", "upstream", jsonMode, 1<<20)
}

// preludeLen is the total-length, headers-length and prelude-CRC words.
const preludeLen = 12

func (s *stream) Next() (llm.Event, error) {
	for {
		if ev, ok := s.q.Pop(); ok {
			return ev, nil
		}
		if s.done {
			return llm.Event{}, io.EOF
		}
		s.q.Clear()
		msg, err := s.readFrame()
		if err != nil {
			return llm.Event{}, err
		}
		s.call.Tick()
		if err := s.decode(&msg); err != nil {
			return llm.Event{}, err
		}
	}
}

// readFrame reads one event-stream message. It checks the prelude's
// lengths itself before handing the frame to the decoder (which checks
// both CRCs), so a corrupt length cannot make it read without bound.
func (s *stream) readFrame() (eventstream.Message, error) {
	pre, err := s.r.Peek(preludeLen)
	if err != nil {
		if err := s.call.Interrupted(); err != nil {
			return eventstream.Message{}, err
		}
		if (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && len(pre) == 0 {
			return eventstream.Message{}, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream event stream ended before its metadata event"}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return eventstream.Message{}, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream event stream ended in the middle of a frame"}
		}
		return eventstream.Message{}, s.call.Explain(err)
	}
	total := binary.BigEndian.Uint32(pre[0:4])
	headers := binary.BigEndian.Uint32(pre[4:8])
	if total < 16 || int64(total) > int64(s.maxFrame) || int64(headers) > int64(total)-16 {
		return eventstream.Message{}, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a corrupt event-stream frame (bad length)"}
	}
	msg, err := s.dec.Decode(s.r, s.buf)
	if err != nil {
		if err := s.call.Interrupted(); err != nil {
			return eventstream.Message{}, err
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// Not wrapped: a caller testing errors.Is(err, io.EOF) must not
			// take a cut stream for a finished one.
			return eventstream.Message{}, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream event stream ended in the middle of a frame"}
		}
		if _, ok := errors.AsType[eventstream.ChecksumError](err); ok {
			return eventstream.Message{}, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a corrupt event-stream frame (checksum mismatch)", Err: err}
		}
		if _, ok := errors.AsType[net.Error](err); ok {
			return eventstream.Message{}, s.call.Explain(err)
		}
		return eventstream.Message{}, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a corrupt event-stream frame", Err: err}
	}
	s.buf = msg.Payload[:0]
	return msg, nil
}

func header(m *eventstream.Message, name string) string {
	v := m.Headers.Get(name)
	if v == nil {
		return ""
	}
	if sv, ok := v.(eventstream.StringValue); ok {
		return string(sv)
	}
	return v.String()
}

func bad(what string, err error) error {
	return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a malformed " + what + " event", Err: err}
}

// decode turns one event-stream message into canonical events.
func (s *stream) decode(m *eventstream.Message) error {
	switch mt := header(m, wire.HeaderMessageType); mt {
	case wire.MessageTypeEvent:
	case wire.MessageTypeException:
		typ := header(m, wire.HeaderExceptionType)
		var eb wire.ErrorBody
		_ = json.Unmarshal(m.Payload, &eb)
		msg := eb.Message
		if msg == "" {
			msg = "no message"
		}
		return &llm.Error{Kind: kindOf(typ, 0), Code: typ, Message: "the upstream reported " + typ + " mid-stream: " + msg}
	case wire.MessageTypeError:
		code := header(m, wire.HeaderErrorCode)
		return &llm.Error{Kind: kindOf(code, 0), Code: code, Message: "the upstream reported an error mid-stream: " + code + ": " + header(m, wire.HeaderErrorMessage)}
	default:
		return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent an event-stream message of unknown type " + strconv.Quote(mt)}
	}
	if s.stopped && header(m, wire.HeaderEventType) != wire.EventMetadata {
		return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent content after messageStop"}
	}
	switch et := header(m, wire.HeaderEventType); et {
	case wire.EventMessageStart:
		var e wire.MessageStartEvent
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			return bad(et, err)
		}
		s.start()
	case wire.EventContentBlockStart:
		var e wire.ContentBlockStartEvent
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			return bad(et, err)
		}
		s.start()
		if tu := e.Start.ToolUse; tu != nil {
			if _, dup := s.blocks[e.ContentBlockIndex]; dup {
				return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream started content block " + strconv.Itoa(e.ContentBlockIndex) + " twice"}
			}
			if s.jsonMode && tu.Name == JSONToolName {
				s.blocks[e.ContentBlockIndex] = &block{json: true}
				return nil
			}
			b := &block{tool: true, toolIndex: s.tools}
			s.tools++
			s.blocks[e.ContentBlockIndex] = b
			s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventToolCall, ToolIndex: b.toolIndex,
				ToolCall: llm.ToolCall{ID: tu.ToolUseID, Name: tu.Name}})
		}
	case wire.EventContentBlockDelta:
		// The one event per token: read with gjson rather than by
		// reflection, as the OpenAI codec does.
		if !gjson.ValidBytes(m.Payload) {
			return bad(et, nil)
		}
		root := gjson.ParseBytes(m.Payload)
		idx := root.Get("contentBlockIndex")
		d := root.Get("delta")
		if idx.Type != gjson.Number || !d.IsObject() {
			return bad(et, nil)
		}
		s.start()
		index := int(idx.Int())
		b := s.blocks[index]
		if v := d.Get("text"); v.Exists() {
			if v.Type != gjson.String {
				return bad(et, nil)
			}
			if v.Str != "" {
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventText, Text: v.Str})
			}
		} else if tu := d.Get("toolUse"); tu.Exists() {
			in := tu.Get("input")
			if in.Exists() && in.Type != gjson.String {
				return bad(et, nil)
			}
			switch {
			case b == nil:
				return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent tool input for content block " + strconv.Itoa(index) + ", which it never started"}
			case b.json:
				if in.Str != "" {
					s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventText, Text: in.Str})
				}
			default:
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventToolCall, ToolIndex: b.toolIndex, ToolCall: llm.ToolCall{Arguments: in.Str}})
			}
		} else if rc := d.Get("reasoningContent"); rc.Exists() {
			if v := rc.Get("text"); v.Type == gjson.String {
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventReasoning, Text: v.Str})
			} else if v := rc.Get("signature"); v.Type == gjson.String {
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventReasoning, Signature: v.Str})
			} else if v := rc.Get("redactedContent"); v.Type == gjson.String && v.Str != "" {
				if _, err := base64.StdEncoding.DecodeString(v.Str); err != nil {
					return bad(et, err)
				}
				s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventRedactedReasoning, Text: v.Str})
			}
		}
	case wire.EventContentBlockStop:
		var e wire.ContentBlockStopEvent
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			return bad(et, err)
		}
	case wire.EventMessageStop:
		var e wire.MessageStopEvent
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			return bad(et, err)
		}
		s.start()
		s.stopped = true
		s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventFinish, FinishReason: finishReason(e.StopReason, s.jsonMode)})
	case wire.EventMetadata:
		var e wire.MetadataEvent
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			return bad(et, err)
		}
		if !s.stopped {
			return &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent its metadata event before messageStop"}
		}
		s.done = true
		s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventUsage, Usage: usageFromWire(&e.Usage)})
	default:
		// Event types added after this codec was written (citations,
		// tool results of server tools) are skipped.
	}
	return nil
}

// start emits the opening events once.
func (s *stream) start() {
	if s.started {
		return
	}
	s.started = true
	s.q.Events = append(s.q.Events, llm.Event{Type: llm.EventStart, ID: s.id, Model: s.model, Created: time.Now().Unix()},
		llm.Event{Type: llm.EventRole})
}

// Buffered reports whether more of the stream has already arrived, so the
// door can write it out together with what it has.
func (s *stream) Buffered() bool { return s.q.Held() || s.r.Buffered() > 0 }

func (s *stream) Close() error { return s.call.Close() }
