package gemini

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
	wire "github.com/causeway-ai/causeway/internal/schema/gemini"
	"github.com/causeway-ai/causeway/internal/sse"
)

// maxChoices bounds the candidate index an upstream may send.
const maxChoices = 64

// decoder turns GenerateContentResponse objects (a whole answer, or the
// events of a stream) into canonical events. Gemini sends whole function
// calls and repeats usageMetadata with running totals; the decoder keeps
// the last and yields it once, after everything else.
type decoder struct {
	started  bool
	roles    [maxChoices]bool
	finished [maxChoices]bool
	calls    [maxChoices]int // function calls seen per candidate
	nfinish  int
	usage    *wire.UsageMetadata
}

func usageFromWire(u *wire.UsageMetadata) llm.Usage {
	return llm.Usage{
		InputTokens:       u.PromptTokenCount + u.ToolUsePromptTokenCount,
		OutputTokens:      u.CandidatesTokenCount + u.ThoughtsTokenCount,
		CachedInputTokens: u.CachedContentTokenCount,
		ReasoningTokens:   u.ThoughtsTokenCount,
	}
}

// finishReason maps Gemini's finish reasons; STOP after function calls is
// tool_calls.
func finishReason(r string, calls int) llm.FinishReason {
	switch r {
	case "MAX_TOKENS":
		return llm.FinishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return llm.FinishContentFilter
	}
	if calls > 0 {
		return llm.FinishToolCalls
	}
	return llm.FinishStop
}

// decode appends the events of one response object to evs.
func (d *decoder) decode(evs []llm.Event, data []byte) ([]llm.Event, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return evs, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a response that is not a JSON object"}
	}
	var r struct {
		wire.GenerateContentResponse
		Error *wire.ErrorDetail `json:"error"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return evs, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent malformed JSON", Err: err}
	}
	if r.Error != nil {
		return evs, &llm.Error{Kind: llm.KindUpstream, Status: r.Error.Code, Message: "the upstream reported an error mid-stream: " + r.Error.Message}
	}
	if !d.started {
		d.started = true
		evs = append(evs, llm.Event{Type: llm.EventStart, ID: r.ResponseID, Model: r.ModelVersion})
	}
	if r.UsageMetadata != nil {
		d.usage = r.UsageMetadata
	}
	if pf := r.PromptFeedback; pf != nil && pf.BlockReason != "" && len(r.Candidates) == 0 && !d.finished[0] {
		// The prompt itself was blocked: no candidate comes.
		ann := map[string]json.RawMessage{}
		ann["blockReason"], _ = json.Marshal(pf.BlockReason)
		if len(pf.SafetyRatings) > 0 {
			ann["safetyRatings"] = pf.SafetyRatings
		}
		if !d.roles[0] {
			d.roles[0] = true
			evs = append(evs, llm.Event{Type: llm.EventRole})
		}
		d.finished[0] = true
		d.nfinish++
		evs = append(evs, llm.Event{Type: llm.EventFinish, FinishReason: llm.FinishContentFilter, Annotations: ann})
	}
	for ci := range r.Candidates {
		c := &r.Candidates[ci]
		idx := c.Index
		if idx < 0 || idx >= maxChoices {
			return evs, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent a candidate with an out-of-range index " + strconv.Itoa(idx)}
		}
		if d.finished[idx] {
			return evs, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream sent content for a candidate after its finishReason"}
		}
		if !d.roles[idx] {
			d.roles[idx] = true
			evs = append(evs, llm.Event{Type: llm.EventRole, Choice: idx})
		}
		if c.Content != nil {
			for pi := range c.Content.Parts {
				p := &c.Content.Parts[pi]
				switch {
				case p.FunctionCall != nil:
					id := p.FunctionCall.ID
					if id == "" {
						id = "call_" + strconv.Itoa(d.calls[idx])
					}
					id = joinID(id, p.ThoughtSignature)
					args := "{}"
					if a := bytes.TrimSpace(p.FunctionCall.Args); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
						args = string(compact(a))
					}
					evs = append(evs, llm.Event{Type: llm.EventToolCall, Choice: idx, ToolIndex: d.calls[idx],
						ToolCall: llm.ToolCall{ID: id, Name: p.FunctionCall.Name, Arguments: args}})
					d.calls[idx]++
				case p.Thought:
					evs = append(evs, llm.Event{Type: llm.EventReasoning, Choice: idx, Text: p.Text, Signature: p.ThoughtSignature})
				case p.Text != "":
					if p.ThoughtSignature != "" {
						evs = append(evs, llm.Event{Type: llm.EventReasoning, Choice: idx, Signature: p.ThoughtSignature})
					}
					evs = append(evs, llm.Event{Type: llm.EventText, Choice: idx, Text: p.Text})
				case p.ThoughtSignature != "":
					evs = append(evs, llm.Event{Type: llm.EventReasoning, Choice: idx, Signature: p.ThoughtSignature})
				case p.InlineData != nil || p.FileData != nil:
					return evs, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream answered with media, which Causeway does not relay"}
				}
			}
		}
		if c.FinishReason != "" {
			d.finished[idx] = true
			d.nfinish++
			ev := llm.Event{Type: llm.EventFinish, Choice: idx, FinishReason: finishReason(c.FinishReason, d.calls[idx])}
			if len(c.SafetyRatings) > 0 || c.FinishMessage != "" {
				ev.Annotations = map[string]json.RawMessage{}
				if len(c.SafetyRatings) > 0 {
					ev.Annotations["safetyRatings"] = c.SafetyRatings
				}
				if c.FinishMessage != "" {
					ev.Annotations["finishMessage"], _ = json.Marshal(c.FinishMessage)
				}
			}
			evs = append(evs, ev)
		}
	}
	return evs, nil
}

// end checks that every candidate finished and appends the usage.
func (d *decoder) end(evs []llm.Event) ([]llm.Event, error) {
	if !d.started || d.nfinish == 0 {
		return evs, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream response ended before any candidate had a finishReason"}
	}
	for i := range d.roles {
		if d.roles[i] && !d.finished[i] {
			return evs, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream response ended before candidate " + strconv.Itoa(i) + " had a finishReason"}
		}
	}
	if d.usage != nil {
		evs = append(evs, llm.Event{Type: llm.EventUsage, Usage: usageFromWire(d.usage)})
	}
	return evs, nil
}

// DecodeResponse decodes a whole generateContent body into events.
func DecodeResponse(body []byte) ([]llm.Event, error) {
	var d decoder
	evs, err := d.decode(nil, body)
	if err != nil {
		if le, ok := err.(*llm.Error); ok && le.Err != nil {
			le.Message = "the upstream returned a response that is not valid generateContent JSON"
		}
		return nil, err
	}
	return d.end(evs)
}

// stream decodes a streamGenerateContent?alt=sse body. Gemini has no end
// marker: the stream ends when the connection closes cleanly after every
// candidate has finished.
type stream struct {
	call *upstream.Call
	r    *sse.Reader
	d    decoder
	q    upstream.Queue
	done bool
	err  error
}

func (s *stream) Next() (llm.Event, error) {
	for {
		if ev, ok := s.q.Pop(); ok {
			return ev, nil
		}
		if s.err != nil {
			return llm.Event{}, s.err
		}
		if s.done {
			return llm.Event{}, io.EOF
		}
		s.q.Clear()
		ev, err := s.r.Next()
		if err == io.EOF {
			if s.err = s.call.Interrupted(); s.err != nil {
				continue
			}
			s.done = true
			s.q.Events, s.err = s.d.end(s.q.Events)
			continue
		}
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				if s.err = s.call.Interrupted(); s.err == nil {
					s.err = &llm.Error{Kind: llm.KindUpstream, Message: "the upstream stream ended mid-event"}
				}
				continue
			}
			s.err = s.call.Explain(err)
			continue
		}
		s.call.Tick()
		if len(bytes.TrimSpace(ev.Data)) == 0 {
			continue
		}
		s.q.Events, s.err = s.d.decode(s.q.Events, ev.Data)
	}
}

// Buffered reports whether more of the stream has already arrived.
func (s *stream) Buffered() bool { return s.q.Held() || s.r.Buffered() > 0 }

func (s *stream) Close() error { return s.call.Close() }

// DecodeStream decodes a Gemini SSE stream with no timeouts; the golden
// translation tests and the fuzz target use it.
func DecodeStream(r io.Reader) llm.Stream {
	return &stream{call: upstream.Unbounded(r), r: sse.NewReader(r, 1<<20)}
}
