package anthropic

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/anthropic"
	"github.com/causeway-ai/causeway/internal/sse"
)

// MessageID names a response: the upstream's id when it is already an
// Anthropic message id, else "msg_" and the request id's suffix.
func MessageID(callID, requestID string) string {
	if strings.HasPrefix(callID, "msg_") {
		return callID
	}
	return "msg_" + strings.TrimPrefix(requestID, "req_")
}

// stopReason maps a canonical finish reason to Anthropic's stop_reason.
// A plain stop with tool calls is tool_use: some OpenAI-compatible
// upstreams say "stop" after calling tools, and Anthropic clients run
// tools only on tool_use.
func stopReason(fr llm.FinishReason, stopSeq string, sawTool bool) string {
	switch fr {
	case llm.FinishLength:
		return "max_tokens"
	case llm.FinishToolCalls:
		return "tool_use"
	case llm.FinishContentFilter:
		return "refusal"
	}
	if stopSeq != "" {
		return "stop_sequence"
	}
	if sawTool {
		return "tool_use"
	}
	return "end_turn"
}

// usageToWire converts canonical usage: Anthropic's input_tokens exclude
// cache reads (canonical InputTokens include them) and cache writes
// (canonical InputTokens exclude them too).
func usageToWire(u llm.Usage) wire.Usage {
	return wire.Usage{
		InputTokens:              u.InputTokens - u.CachedInputTokens,
		OutputTokens:             u.OutputTokens,
		CacheCreationInputTokens: u.CacheWriteTokens,
		CacheReadInputTokens:     u.CachedInputTokens,
	}
}

// blockKind is the kind of the content block a stream has open.
type blockKind uint8

const (
	blockNone blockKind = iota
	blockText
	blockThinking
	blockTool
)

// StreamEncoder turns canonical events into Anthropic's named SSE events.
// Blocks open as their first event arrives and close when the next block
// begins or the message finishes; message_delta carries the stop reason
// and the whole usage, which canonical streams give only at the end.
type StreamEncoder struct {
	// ID is the message id, Model the alias the client asked for.
	ID    string
	Model string

	started  bool
	index    int // index of the open block, or of the next one
	open     blockKind
	signed   bool // the open thinking block has its signature
	toolIdx  int  // canonical ToolIndex of the open tool block
	toolSeen map[int]bool
	finish   llm.FinishReason
	stopSeq  string
	finished bool
	sawTool  bool
	usage    llm.Usage
	// textPrefix frames a text delta for the open block; a stream has one
	// per token, so it is built without reflection.
	textPrefix []byte
}

// Start appends message_start (and a ping, as Anthropic sends) unless
// already sent.
func (e *StreamEncoder) Start(dst []byte) []byte {
	if e.started {
		return dst
	}
	e.started = true
	ev := wire.StreamEvent{Type: wire.EventMessageStart, Message: &wire.MessagesResponse{
		ID: e.ID, Type: "message", Role: "assistant", Model: e.Model, Content: []wire.ContentBlock{},
	}}
	dst = appendEvent(dst, wire.EventMessageStart, &ev)
	return sse.AppendEvent(dst, wire.EventPing, []byte(`{"type":"ping"}`))
}

func appendEvent(dst []byte, name string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return dst
	}
	return sse.AppendEvent(dst, name, b)
}

func (e *StreamEncoder) closeBlock(dst []byte) []byte {
	if e.open == blockNone {
		return dst
	}
	i := e.index
	dst = appendEvent(dst, wire.EventContentBlockStop, &wire.StreamEvent{Type: wire.EventContentBlockStop, Index: &i})
	e.open = blockNone
	e.index++
	return dst
}

func (e *StreamEncoder) openBlock(dst []byte, kind blockKind, cb *wire.ContentBlock) []byte {
	dst = e.closeBlock(dst)
	i := e.index
	dst = appendEvent(dst, wire.EventContentBlockStart, &wire.StreamEvent{Type: wire.EventContentBlockStart, Index: &i, ContentBlock: cb})
	e.open = kind
	e.signed = false
	if kind == blockText {
		e.textPrefix = append(e.textPrefix[:0], `event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":`...)
		e.textPrefix = strconv.AppendInt(e.textPrefix, int64(i), 10)
		e.textPrefix = append(e.textPrefix, `,"delta":{"type":"text_delta","text":`...)
	}
	return dst
}

func (e *StreamEncoder) delta(dst []byte, d *wire.Delta) []byte {
	i := e.index
	return appendEvent(dst, wire.EventContentBlockDelta, &wire.StreamEvent{Type: wire.EventContentBlockDelta, Index: &i, Delta: d})
}

var empty = ""

// Encode appends the events for ev to dst. It returns an error when the
// event cannot be expressed (a tool call's arguments resumed after another
// block began); the door then ends the stream with an error event.
func (e *StreamEncoder) Encode(dst []byte, ev *llm.Event) ([]byte, error) {
	if ev.Choice != 0 && ev.Type != llm.EventUsage {
		return dst, nil // Anthropic messages have one choice
	}
	dst = e.Start(dst)
	switch ev.Type {
	case llm.EventText, llm.EventRefusal:
		if ev.Text == "" {
			return dst, nil
		}
		if e.open != blockText {
			dst = e.openBlock(dst, blockText, &wire.ContentBlock{Type: "text", Text: &empty})
		}
		t, err := json.Marshal(ev.Text)
		if err != nil {
			return dst, nil
		}
		dst = append(dst, e.textPrefix...)
		dst = append(dst, t...)
		dst = append(dst, "}}\n\n"...)
	case llm.EventReasoning:
		if ev.Text != "" {
			if e.open != blockThinking || e.signed {
				dst = e.openBlock(dst, blockThinking, &wire.ContentBlock{Type: "thinking", Thinking: &empty, Signature: &empty})
			}
			dst = e.delta(dst, &wire.Delta{Type: "thinking_delta", Thinking: ev.Text})
		}
		if ev.Signature != "" {
			if e.open != blockThinking || e.signed {
				dst = e.openBlock(dst, blockThinking, &wire.ContentBlock{Type: "thinking", Thinking: &empty, Signature: &empty})
			}
			dst = e.delta(dst, &wire.Delta{Type: "signature_delta", Signature: ev.Signature})
			e.signed = true
		}
	case llm.EventRedactedReasoning:
		dst = e.openBlock(dst, blockNone, &wire.ContentBlock{Type: "redacted_thinking", Data: ev.Text})
		e.open = blockThinking // so that closeBlock ends it
		e.signed = true
		dst = e.closeBlock(dst)
	case llm.EventToolCall:
		if e.open != blockTool || e.toolIdx != ev.ToolIndex {
			if e.toolSeen[ev.ToolIndex] {
				return dst, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream interleaved the arguments of parallel tool calls, which Anthropic's stream format cannot express"}
			}
			if e.toolSeen == nil {
				e.toolSeen = map[int]bool{}
			}
			e.toolSeen[ev.ToolIndex] = true
			id := ev.ToolCall.ID
			if id == "" {
				id = "toolu_" + strings.TrimPrefix(e.ID, "msg_") + "_" + strconv.Itoa(ev.ToolIndex)
			}
			dst = e.openBlock(dst, blockTool, &wire.ContentBlock{Type: "tool_use", ID: id, Name: ev.ToolCall.Name, Input: json.RawMessage(`{}`)})
			e.toolIdx = ev.ToolIndex
			e.sawTool = true
		}
		if ev.ToolCall.Arguments != "" {
			args := ev.ToolCall.Arguments
			dst = e.delta(dst, &wire.Delta{Type: "input_json_delta", PartialJSON: &args})
		}
	case llm.EventFinish:
		dst = e.closeBlock(dst)
		e.finish = ev.FinishReason
		e.stopSeq = ev.StopSequence
		e.finished = true
	case llm.EventUsage:
		e.usage = ev.Usage
	}
	return dst, nil
}

// messageDelta is message_delta with stop_reason and stop_sequence always
// present, as Anthropic sends them.
type messageDelta struct {
	Type  string `json:"type"`
	Delta struct {
		StopReason   *string `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage wire.DeltaUsage `json:"usage"`
}

// End appends the closing events of a complete message: the open block's
// stop, message_delta with the stop reason and the usage, message_stop.
func (e *StreamEncoder) End(dst []byte) []byte {
	dst = e.Start(dst)
	dst = e.closeBlock(dst)
	var md messageDelta
	md.Type = wire.EventMessageDelta
	sr := stopReason(e.finish, e.stopSeq, e.sawTool)
	md.Delta.StopReason = &sr
	if e.stopSeq != "" {
		s := e.stopSeq
		md.Delta.StopSequence = &s
	}
	u := usageToWire(e.usage)
	md.Usage = wire.DeltaUsage{OutputTokens: u.OutputTokens, InputTokens: &u.InputTokens,
		CacheCreationInputTokens: &u.CacheCreationInputTokens, CacheReadInputTokens: &u.CacheReadInputTokens}
	dst = appendEvent(dst, wire.EventMessageDelta, &md)
	return sse.AppendEvent(dst, wire.EventMessageStop, []byte(`{"type":"message_stop"}`))
}

// StreamError appends an error event; the stream ends after it, without
// message_stop, so no client mistakes a failed answer for a whole one.
func StreamError(dst []byte, err error) []byte {
	_, body := errorBody(err)
	return appendEvent(dst, wire.EventError, &body)
}

// Collector builds a whole message from canonical events.
type Collector struct {
	id, model string
	blocks    []wire.ContentBlock
	text      []*strings.Builder // per block, for text and thinking
	args      []*strings.Builder // per block, for tool_use
	last      blockKind
	signed    bool
	toolBlock map[int]int // canonical ToolIndex → block index
	finish    llm.FinishReason
	stopSeq   string
	sawTool   bool
	usage     llm.Usage
}

// NewCollector starts a message with the given id and model.
func NewCollector(id, model string) *Collector {
	return &Collector{id: id, model: model, toolBlock: map[int]int{}}
}

func (c *Collector) add(kind blockKind, b wire.ContentBlock) int {
	c.blocks = append(c.blocks, b)
	c.text = append(c.text, &strings.Builder{})
	c.args = append(c.args, &strings.Builder{})
	c.last = kind
	c.signed = false
	return len(c.blocks) - 1
}

// Add folds one event into the message.
func (c *Collector) Add(ev *llm.Event) {
	if ev.Choice != 0 && ev.Type != llm.EventUsage {
		return
	}
	n := len(c.blocks) - 1
	switch ev.Type {
	case llm.EventText, llm.EventRefusal:
		if ev.Text == "" {
			return
		}
		if c.last != blockText {
			n = c.add(blockText, wire.ContentBlock{Type: "text"})
		}
		c.text[n].WriteString(ev.Text)
	case llm.EventReasoning:
		if ev.Text == "" && ev.Signature == "" {
			return
		}
		if c.last != blockThinking || c.signed {
			n = c.add(blockThinking, wire.ContentBlock{Type: "thinking"})
		}
		c.text[n].WriteString(ev.Text)
		if ev.Signature != "" {
			s := ev.Signature
			if c.blocks[n].Signature != nil {
				s = *c.blocks[n].Signature + s
			}
			c.blocks[n].Signature = &s
			c.signed = true
		}
	case llm.EventRedactedReasoning:
		c.add(blockNone, wire.ContentBlock{Type: "redacted_thinking", Data: ev.Text})
	case llm.EventToolCall:
		i, ok := c.toolBlock[ev.ToolIndex]
		if !ok {
			id := ev.ToolCall.ID
			if id == "" {
				id = "toolu_" + strings.TrimPrefix(c.id, "msg_") + "_" + strconv.Itoa(ev.ToolIndex)
			}
			i = c.add(blockTool, wire.ContentBlock{Type: "tool_use", ID: id, Name: ev.ToolCall.Name})
			c.toolBlock[ev.ToolIndex] = i
			c.sawTool = true
		}
		c.args[i].WriteString(ev.ToolCall.Arguments)
	case llm.EventFinish:
		c.finish = ev.FinishReason
		c.stopSeq = ev.StopSequence
	case llm.EventUsage:
		c.usage = ev.Usage
	}
}

// Response returns the whole message. Tool arguments that are not a JSON
// object are an upstream fault (502), never a broken tool_use block.
func (c *Collector) Response() (*wire.MessagesResponse, error) {
	r := &wire.MessagesResponse{ID: c.id, Type: "message", Role: "assistant", Model: c.model,
		Content: make([]wire.ContentBlock, len(c.blocks)), Usage: usageToWire(c.usage)}
	for i, b := range c.blocks {
		switch b.Type {
		case "text":
			s := c.text[i].String()
			b.Text = &s
		case "thinking":
			s := c.text[i].String()
			b.Thinking = &s
			if b.Signature == nil {
				b.Signature = &empty
			}
		case "tool_use":
			args := bytes.TrimSpace([]byte(c.args[i].String()))
			if len(args) == 0 {
				args = []byte("{}")
			}
			if !json.Valid(args) || args[0] != '{' {
				return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned arguments for the tool '" + b.Name + "' that are not a JSON object"}
			}
			b.Input = args
		}
		r.Content[i] = b
	}
	sr := stopReason(c.finish, c.stopSeq, c.sawTool)
	r.StopReason = &sr
	if c.stopSeq != "" {
		s := c.stopSeq
		r.StopSequence = &s
	}
	return r, nil
}

// errorBody maps an error to Anthropic's status and error envelope. This
// is the one place the door turns Kinds into wire errors.
//
// Upstream failures: an upstream that says it is overloaded or
// unavailable (503, 529) and an unreachable upstream are 529
// overloaded_error, which Anthropic SDKs and Claude Code retry with
// backoff and report as overload; any other upstream failure (a 5xx, a
// garbage answer) is 502 api_error, which the SDKs also retry; a timeout
// is 504 timeout_error, as Anthropic answers. A spent budget is 429 rate_limit_error, sent with
// x-should-retry: false (see WriteError) because waiting does not help.
func errorBody(err error) (int, wire.ErrorBody) {
	e := llm.AsError(err)
	var status int
	var typ string
	switch e.Kind {
	case llm.KindInvalid:
		status, typ = http.StatusBadRequest, "invalid_request_error"
	case llm.KindUnauthenticated:
		status, typ = http.StatusUnauthorized, "authentication_error"
	case llm.KindPermission:
		status, typ = http.StatusForbidden, "permission_error"
	case llm.KindNotFound:
		status, typ = http.StatusNotFound, "not_found_error"
	case llm.KindTooLarge:
		status, typ = http.StatusRequestEntityTooLarge, "request_too_large"
	case llm.KindRateLimited, llm.KindBudgetExceeded:
		status, typ = http.StatusTooManyRequests, "rate_limit_error"
	case llm.KindUnavailable:
		status, typ = 529, "overloaded_error"
	case llm.KindUpstream:
		if e.Status == http.StatusServiceUnavailable || e.Status == 529 {
			status, typ = 529, "overloaded_error"
		} else {
			status, typ = http.StatusBadGateway, "api_error"
		}
	case llm.KindTimeout:
		status, typ = http.StatusGatewayTimeout, "timeout_error"
	case llm.KindCanceled:
		status, typ = 499, "api_error"
	case llm.KindNoRoute:
		status, typ = http.StatusServiceUnavailable, "api_error"
	default:
		status, typ = http.StatusInternalServerError, "api_error"
	}
	return status, wire.ErrorBody{Type: "error", Error: wire.ErrorDetail{Type: typ, Message: e.Message}}
}

// StatusOf maps an error to the status code this door answers with.
func StatusOf(err error) int {
	st, _ := errorBody(err)
	return st
}

// WriteError writes err in Anthropic's error shape with its status.
func WriteError(w http.ResponseWriter, err error) {
	status, body := errorBody(err)
	e := llm.AsError(err)
	if e.RetryAfter > 0 && status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+999_999_999)/1e9), 10))
	}
	if e.Kind == llm.KindBudgetExceeded {
		w.Header().Set("X-Should-Retry", "false")
	}
	writeJSON(w, status, &body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"type":"error","error":{"type":"api_error","message":"internal error encoding the response"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
