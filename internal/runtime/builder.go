package runtime

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
)

func intp(i int) *int { return &i }

// builder turns canonical events into output items, and, for a streamed
// response, into the Responses API's stream events.
type builder struct {
	resp *wire.Response
	// created is when the response began, to the microsecond (the wire
	// shows whole seconds; lists order by this).
	created time.Time
	emit    Emit
	seq     int64
	// events are the sent events, kept for replay when storing.
	events []json.RawMessage
	record bool
	final  []byte
	finalT string
	// finalled: the last event is prepared (final is nil when the
	// response ends without one: a cancelled response).
	finalled bool
	// started: response.created has been sent. onStart, when set, is
	// called once the response is in progress (its first model call
	// answered).
	started bool
	running bool
	onStart func()
	// pending, when set, delivers the outcome of writing the row of a
	// stored foreground response as it started (startPending); rowKnown
	// and row keep it once received.
	pending  chan error
	rowKnown bool
	row      bool

	msg int // output index of the open message, -1 if none
	// parts are the open message's content parts, in order; openPart is
	// the one receiving deltas (-1 for none). A part is closed (its .done
	// events sent) before the next one starts.
	parts    []*msgPart
	openPart int
	// rs is the output index of the open reasoning item (-1 if none),
	// with its text, signature and redacted data; family is the provider
	// family of the current model call, which its reasoning is bound to.
	rs     int
	rsText strings.Builder
	rsSig  string
	rsData string
	rsPart bool
	family string
	tool   int         // output index of the open function call, -1 if none
	tools  map[int]int // canonical tool index → output index
	usage  llm.Usage
	base   llm.Usage // the usage of the steps before this one
	sawUse bool
	// stepStart is the output index where the current model call's items
	// begin; stop, when set, ends the response incomplete with it.
	stepStart int
	stop      string
	// requestIDs are the request ids of the response's model calls.
	requestIDs []string
	// memoryIDs are the long-term memories recalled into the context.
	memoryIDs []string
	// notes are told to the client in causeway.notes.
	notes   []string
	finish  llm.FinishReason
	failure error
}

func newBuilder(cp *CreateParams, emit Emit) *builder {
	r := cp.Req
	now := time.Now()
	resp := &wire.Response{
		ID: identity.NewID("resp_"), Object: "response", CreatedAt: now.Unix(), Status: "in_progress",
		Model: r.Model, Output: []wire.Item{}, ParallelToolCalls: true, ServiceTier: "default", Store: true,
		Temperature: 1, TopP: 1, Truncation: "disabled", Metadata: map[string]string{}, Tools: []json.RawMessage{},
		ToolChoice: json.RawMessage(`"auto"`), Text: wire.TextConfig{Format: &wire.Format{Type: "text"}, Verbosity: "medium"},
		Instructions: r.Instructions, MaxOutputTokens: r.MaxOutputTokens, PreviousResponseID: r.PreviousResponseID,
		User: r.User, SafetyIdentifier: r.SafetyIdentifier, MaxToolCalls: r.MaxToolCalls,
	}
	if r.Store != nil {
		resp.Store = *r.Store
	}
	if r.ParallelToolCalls != nil {
		resp.ParallelToolCalls = *r.ParallelToolCalls
	}
	if r.Temperature != nil {
		resp.Temperature = *r.Temperature
	}
	if r.TopP != nil {
		resp.TopP = *r.TopP
	}
	if r.Truncation != nil {
		resp.Truncation = *r.Truncation
	}
	if len(r.Metadata) > 0 {
		resp.Metadata = r.Metadata
	}
	if len(r.Tools) > 0 {
		resp.Tools = r.Tools
	}
	if len(r.ToolChoice) > 0 {
		resp.ToolChoice = r.ToolChoice
	}
	if r.Text != nil {
		if r.Text.Format != nil {
			resp.Text.Format = r.Text.Format
		}
		if r.Text.Verbosity != "" {
			resp.Text.Verbosity = r.Text.Verbosity
		}
	}
	if r.Reasoning != nil {
		resp.Reasoning = *r.Reasoning
	}
	if cp.ConversationID != "" {
		resp.Conversation = &wire.ConversationRef{ID: cp.ConversationID}
	}
	return &builder{resp: resp, created: now, emit: emit, record: emit != nil && resp.Store, msg: -1, tool: -1, rs: -1, tools: map[int]int{}}
}

// send numbers, encodes and sends one event (streams only).
func (b *builder) send(ev *wire.Event) error {
	if b.emit == nil {
		return nil
	}
	ev.SequenceNumber = b.seq
	b.seq++
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if b.record {
		b.events = append(b.events, data)
	}
	return b.emit(ev.Type, data)
}

// snapshot copies the response for an event, so later changes do not
// alter what an event said.
func (b *builder) snapshot() *wire.Response {
	r := *b.resp
	r.Output = make([]wire.Item, len(b.resp.Output))
	copy(r.Output, b.resp.Output)
	return &r
}

// sendCreated sends response.created with the response as it is now
// (in_progress, or queued for a background response).
func (b *builder) sendCreated() error {
	b.started = true
	return b.send(&wire.Event{Type: "response.created", Response: b.snapshot()})
}

// start puts the response in progress (once).
func (b *builder) start() error {
	if b.running {
		return nil
	}
	b.running = true
	if !b.started {
		if err := b.sendCreated(); err != nil {
			return err
		}
	}
	b.resp.Status = "in_progress"
	if err := b.send(&wire.Event{Type: "response.in_progress", Response: b.snapshot()}); err != nil {
		return err
	}
	if b.onStart != nil {
		b.onStart()
	}
	return nil
}

func (b *builder) add(ev *llm.Event) error {
	switch ev.Type {
	case llm.EventReasoning, llm.EventRedactedReasoning:
		return b.reasoning(ev)
	case llm.EventText, llm.EventRefusal:
		if ev.Text == "" {
			return nil
		}
		// Function calls of the step stay open (a late argument chunk
		// may still come for one); closeAll closes them.
		if err := b.closeReasoning(); err != nil {
			return err
		}
		if b.msg < 0 {
			if err := b.openMessage(); err != nil {
				return err
			}
		}
		kind := "output_text"
		if ev.Type == llm.EventRefusal {
			kind = "refusal"
		}
		return b.partDelta(kind, ev.Text)
	case llm.EventToolCall:
		idx, ok := b.tools[ev.ToolIndex]
		if !ok {
			if err := b.closeReasoning(); err != nil {
				return err
			}
			if err := b.closeMessage(); err != nil {
				return err
			}
			// Other calls of the step stay open: their argument chunks
			// may still come, interleaved with this one's.
			callID := ev.ToolCall.ID
			if callID == "" {
				callID = identity.NewID("call_")
			}
			it := wire.Item{ID: identity.NewID("fc_"), Type: "function_call", Status: "in_progress",
				CallID: callID, Name: ev.ToolCall.Name, Arguments: str("")}
			b.resp.Output = append(b.resp.Output, it)
			idx = len(b.resp.Output) - 1
			b.tools[ev.ToolIndex], b.tool = idx, idx
			if err := b.send(&wire.Event{Type: "response.output_item.added", OutputIndex: intp(idx), Item: &it}); err != nil {
				return err
			}
		}
		it := &b.resp.Output[idx]
		if it.Name == "" && ev.ToolCall.Name != "" {
			it.Name = ev.ToolCall.Name
		}
		if ev.ToolCall.Arguments == "" {
			return nil
		}
		*it.Arguments += ev.ToolCall.Arguments
		return b.send(&wire.Event{Type: "response.function_call_arguments.delta", ItemID: it.ID,
			OutputIndex: intp(idx), Delta: str(ev.ToolCall.Arguments)})
	case llm.EventFinish:
		b.finish = ev.FinishReason
	case llm.EventUsage:
		b.usage, b.sawUse = b.base, true
		b.usage.Add(ev.Usage)
	}
	return nil
}

func (b *builder) openMessage() error {
	it := wire.Item{ID: identity.NewID("msg_"), Type: "message", Status: "in_progress", Role: "assistant",
		Content: json.RawMessage("[]")}
	b.resp.Output = append(b.resp.Output, it)
	b.msg = len(b.resp.Output) - 1
	b.parts, b.openPart = nil, -1
	return b.send(&wire.Event{Type: "response.output_item.added", OutputIndex: intp(b.msg), Item: &it})
}

// msgPart is a content part of the open message: "output_text" or
// "refusal", and its text so far.
type msgPart struct {
	kind string
	text strings.Builder
}

// wire renders the part.
func (mp *msgPart) wire() *wire.Part {
	if mp.kind == "refusal" {
		return refusalPart(mp.text.String())
	}
	return outputText(mp.text.String())
}

// partDelta adds text of a kind ("output_text" or "refusal", as OpenAI
// keeps a refusal apart from the answer) to the open message: to its open
// part of that kind, or to a new one, the open part closed first.
func (b *builder) partDelta(kind, s string) error {
	if b.openPart < 0 || b.parts[b.openPart].kind != kind {
		if err := b.startPart(kind); err != nil {
			return err
		}
	}
	mp := b.parts[b.openPart]
	mp.text.WriteString(s)
	ev := &wire.Event{Type: "response.output_text.delta", ItemID: b.resp.Output[b.msg].ID,
		OutputIndex: intp(b.msg), ContentIndex: intp(b.openPart), Delta: str(s), Logprobs: &[]any{}}
	if kind == "refusal" {
		ev.Type, ev.Logprobs = "response.refusal.delta", nil
	}
	return b.send(ev)
}

// startPart closes the open part and starts one of kind.
func (b *builder) startPart(kind string) error {
	if err := b.closePart(); err != nil {
		return err
	}
	mp := &msgPart{kind: kind}
	b.parts = append(b.parts, mp)
	b.openPart = len(b.parts) - 1
	return b.send(&wire.Event{Type: "response.content_part.added", ItemID: b.resp.Output[b.msg].ID, OutputIndex: intp(b.msg),
		ContentIndex: intp(b.openPart), Part: mp.wire()})
}

// closePart sends the open part's .done events.
func (b *builder) closePart() error {
	if b.openPart < 0 {
		return nil
	}
	i, ci := b.msg, b.openPart
	b.openPart = -1
	mp, id := b.parts[ci], b.resp.Output[b.msg].ID
	text := mp.text.String()
	done := &wire.Event{Type: "response.output_text.done", ItemID: id, OutputIndex: intp(i), ContentIndex: intp(ci),
		Text: str(text), Logprobs: &[]any{}}
	if mp.kind == "refusal" {
		done = &wire.Event{Type: "response.refusal.done", ItemID: id, OutputIndex: intp(i), ContentIndex: intp(ci), Refusal: str(text)}
	}
	if err := b.send(done); err != nil {
		return err
	}
	return b.send(&wire.Event{Type: "response.content_part.done", ItemID: id, OutputIndex: intp(i),
		ContentIndex: intp(ci), Part: mp.wire()})
}

func refusalPart(s string) *wire.Part { return &wire.Part{Type: "refusal", Refusal: &s} }

func outputText(s string) *wire.Part {
	return &wire.Part{Type: "output_text", Text: &s, Annotations: json.RawMessage("[]"), Logprobs: json.RawMessage("[]")}
}

func (b *builder) closeMessage() error {
	if b.msg < 0 {
		return nil
	}
	if len(b.parts) == 0 {
		// A message with nothing in it still has its (empty) text part.
		if err := b.startPart("output_text"); err != nil {
			return err
		}
	}
	if err := b.closePart(); err != nil {
		return err
	}
	i := b.msg
	b.msg = -1
	it := &b.resp.Output[i]
	parts := make([]*wire.Part, len(b.parts))
	for k, mp := range b.parts {
		parts[k] = mp.wire()
	}
	it.Content, _ = json.Marshal(parts)
	it.Status = "completed"
	if b.failure != nil || b.finish == llm.FinishLength || b.finish == llm.FinishContentFilter {
		it.Status = "incomplete"
	}
	done := *it
	return b.send(&wire.Event{Type: "response.output_item.done", OutputIndex: intp(i), Item: &done})
}

func (b *builder) closeTool() error {
	if b.tool < 0 {
		return nil
	}
	i := b.tool
	b.tool = -1
	it := &b.resp.Output[i]
	it.Status = "completed"
	if b.failure != nil {
		it.Status = "incomplete"
	}
	if err := b.send(&wire.Event{Type: "response.function_call_arguments.done", ItemID: it.ID, OutputIndex: intp(i),
		Name: it.Name, Arguments: str(*it.Arguments)}); err != nil {
		return err
	}
	done := *it
	return b.send(&wire.Event{Type: "response.output_item.done", OutputIndex: intp(i), Item: &done})
}

// reasoning adds reasoning to the open reasoning item, opening one
// first. A bare signature with no reasoning item open (Gemini signs text
// and call parts; call signatures travel in the call ids) is not kept.
func (b *builder) reasoning(ev *llm.Event) error {
	if b.rs < 0 {
		if ev.Type == llm.EventReasoning && ev.Text == "" {
			return nil
		}
		if err := b.closeMessage(); err != nil {
			return err
		}
		it := wire.Item{ID: identity.NewID("rs_"), Type: "reasoning", Summary: json.RawMessage("[]")}
		b.resp.Output = append(b.resp.Output, it)
		b.rs = len(b.resp.Output) - 1
		b.rsText.Reset()
		b.rsSig, b.rsData, b.rsPart = "", "", false
		if err := b.send(&wire.Event{Type: "response.output_item.added", OutputIndex: intp(b.rs), Item: &it}); err != nil {
			return err
		}
	}
	id := b.resp.Output[b.rs].ID
	if ev.Type == llm.EventRedactedReasoning {
		b.rsData += ev.Text
		return nil
	}
	if ev.Signature != "" {
		b.rsSig = ev.Signature
	}
	if ev.Text == "" {
		return nil
	}
	if !b.rsPart {
		b.rsPart = true
		if err := b.send(&wire.Event{Type: "response.reasoning_summary_part.added", ItemID: id, OutputIndex: intp(b.rs),
			SummaryIndex: intp(0), Part: summaryText("")}); err != nil {
			return err
		}
	}
	b.rsText.WriteString(ev.Text)
	return b.send(&wire.Event{Type: "response.reasoning_summary_text.delta", ItemID: id, OutputIndex: intp(b.rs),
		SummaryIndex: intp(0), Delta: str(ev.Text)})
}

func summaryText(s string) *wire.Part { return &wire.Part{Type: "summary_text", Text: &s} }

// reasoningInfo is what Causeway keeps of a reasoning item for replay:
// the family it is bound to, its signature, its encrypted (redacted)
// data. The model never sees it; the same family gets it back.
type reasoningInfo struct {
	Family    string `json:"family,omitempty"`
	Signature string `json:"signature,omitempty"`
	Redacted  string `json:"redacted,omitempty"`
}

func (b *builder) closeReasoning() error {
	if b.rs < 0 {
		return nil
	}
	i := b.rs
	b.rs = -1
	it := &b.resp.Output[i]
	text := b.rsText.String()
	if b.rsPart {
		it.Summary, _ = json.Marshal([]*wire.Part{summaryText(text)})
		if err := b.send(&wire.Event{Type: "response.reasoning_summary_text.done", ItemID: it.ID, OutputIndex: intp(i),
			SummaryIndex: intp(0), Text: str(text)}); err != nil {
			return err
		}
		if err := b.send(&wire.Event{Type: "response.reasoning_summary_part.done", ItemID: it.ID, OutputIndex: intp(i),
			SummaryIndex: intp(0), Part: summaryText(text)}); err != nil {
			return err
		}
	}
	it.Status = "completed"
	ri := reasoningInfo{Family: b.family, Signature: b.rsSig, Redacted: b.rsData}
	it.Causeway, _ = json.Marshal(ri)
	// The same, opaque, in the field OpenAI's SDKs carry back (their
	// params drop causeway): a store:false client replays it.
	it.EncryptedContent = ri.encode()
	done := *it
	return b.send(&wire.Event{Type: "response.output_item.done", OutputIndex: intp(i), Item: &done})
}

// closeAll closes the open reasoning, message and every function call.
func (b *builder) closeAll() error {
	if err := b.closeReasoning(); err != nil {
		return err
	}
	if err := b.closeMessage(); err != nil {
		return err
	}
	return b.closeTools()
}

// closeTools closes the step's function calls still open, in output
// order.
func (b *builder) closeTools() error {
	open := make([]int, 0, len(b.tools))
	for _, idx := range b.tools {
		if b.resp.Output[idx].Status == "in_progress" {
			open = append(open, idx)
		}
	}
	slices.Sort(open)
	for _, idx := range open {
		b.tool = idx
		if err := b.closeTool(); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) setUsage() {
	if !b.sawUse {
		return
	}
	u := b.usage
	in := u.InputTokens + u.CacheWriteTokens
	b.resp.Usage = &wire.Usage{InputTokens: in, InputTokensDetails: wire.InputTokensDetails{CachedTokens: u.CachedInputTokens},
		OutputTokens: u.OutputTokens, OutputTokensDetails: wire.OutputTokensDetails{ReasoningTokens: u.ReasoningTokens},
		TotalTokens: in + u.OutputTokens}
}

// nextStep starts a model call's events: its tool indexes are its own.
func (b *builder) nextStep() {
	b.tools = map[int]int{}
	b.msg, b.tool = -1, -1
	b.finish = ""
	b.base = b.usage
	b.stepStart = len(b.resp.Output)
}

// stepCalls returns the function calls of the current model call.
func (b *builder) stepCalls() []wire.Item {
	var out []wire.Item
	for _, it := range b.resp.Output[b.stepStart:] {
		if it.Type == "function_call" {
			out = append(out, it)
		}
	}
	return out
}

// end completes the response after the last event.
func (b *builder) end() error {
	if err := b.closeAll(); err != nil {
		return err
	}
	b.setUsage()
	switch b.finish {
	case llm.FinishLength:
		b.resp.Status = "incomplete"
		b.resp.IncompleteDetails = &wire.IncompleteDetails{Reason: "max_output_tokens"}
	case llm.FinishContentFilter:
		b.resp.Status = "incomplete"
		b.resp.IncompleteDetails = &wire.IncompleteDetails{Reason: "content_filter"}
	default:
		b.resp.Status = "completed"
	}
	if b.stop != "" {
		b.resp.Status = "incomplete"
		b.resp.IncompleteDetails = &wire.IncompleteDetails{Reason: b.stop}
	}
	b.info()
	now := time.Now().Unix()
	b.resp.CompletedAt = &now
	return nil
}

// fail ends the response as failed after a mid-stream error. Writes to
// the client are not checked here: finishStream reports them.
func (b *builder) fail(err error) {
	b.failure = err
	if emit := b.emit; emit != nil {
		var werr error
		b.emit = func(typ string, data []byte) error {
			if werr == nil {
				werr = emit(typ, data)
			}
			return nil
		}
		_ = b.closeAll()
		// OpenAI's stream reports the failure as an error event, then
		// ends with response.failed.
		code := "server_error"
		_ = b.send(&wire.Event{Type: "error", Code: &code, Message: llm.AsError(err).Message, Param: json.RawMessage("null")})
		b.emit = emit
	} else {
		_ = b.closeAll()
	}
	e := llm.AsError(err)
	b.setUsage()
	b.info()
	b.resp.Status = "failed"
	b.resp.Error = &wire.Error{Code: "server_error", Message: e.Message}
}

// cancelled ends the response as cancelled (a background response's
// cancel): what it produced so far is kept.
func (b *builder) cancelled() {
	// Its open items are closed for live followers as for the stored
	// replay (only background responses are cancelled: their emitter is
	// the run's event log, which never fails).
	_ = b.closeAll()
	b.setUsage()
	b.info()
	b.resp.Status = "cancelled"
}

// prepareFinal encodes the last event (and records it for replay). A
// cancelled response has none: OpenAI's stream has no event for it, and
// the stream just ends.
func (b *builder) prepareFinal() {
	if b.emit == nil || b.finalled {
		return
	}
	b.finalled = true
	if b.resp.Status == "cancelled" {
		return
	}
	b.finalT = "response.completed"
	switch b.resp.Status {
	case "incomplete":
		b.finalT = "response.incomplete"
	case "failed":
		b.finalT = "response.failed"
	}
	ev := wire.Event{Type: b.finalT, SequenceNumber: b.seq, Response: b.snapshot()}
	b.seq++
	b.final, _ = json.Marshal(&ev)
	if b.record {
		b.events = append(b.events, b.final)
	}
}

// unprepareFinal takes back the last event prepared for a response whose
// save failed: it ends failed instead, numbered after what was sent.
func (b *builder) unprepareFinal() {
	if !b.finalled {
		return
	}
	b.finalled = false
	if b.final != nil {
		b.seq--
		if b.record && len(b.events) > 0 {
			b.events = b.events[:len(b.events)-1]
		}
	}
	b.final, b.finalT = nil, ""
}

// finishStream sends the last event of a streamed response.
func (b *builder) finishStream() error {
	if b.emit == nil {
		return nil
	}
	b.prepareFinal()
	if b.final == nil {
		return nil
	}
	return b.emit(b.finalT, b.final)
}

// note adds a note for the client, once.
func (b *builder) note(s string) {
	for _, n := range b.notes {
		if n == s {
			return
		}
	}
	b.notes = append(b.notes, s)
}

// info records, on the response, the request ids of its model calls:
// their usage records in the ledger carry them.
func (b *builder) info() {
	if len(b.requestIDs) > 0 || len(b.memoryIDs) > 0 || len(b.notes) > 0 {
		b.resp.Causeway = &wire.ResponseInfo{RequestIDs: b.requestIDs, Memories: b.memoryIDs, Notes: b.notes}
	}
}

// hasRow reports whether the response's row was written as it started
// (waiting for that write to end).
func (b *builder) hasRow() bool {
	if b.pending == nil {
		return false
	}
	if !b.rowKnown {
		b.row, b.rowKnown = <-b.pending == nil, true
	}
	return b.row
}
