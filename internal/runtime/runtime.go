// Package runtime is Causeway's stateful runtime: it serves OpenAI's
// Responses and Conversations APIs on any provider. It loads a response's
// context (a previous_response_id chain or a conversation) from the
// store, converts items to the canonical model, runs the model through the
// gateway (which meters every call), turns the canonical events back into
// output items, and stores the new items.
//
// State is provider-neutral and scoped: every read and write is by the
// principal's tenant and subject. The runtime speaks no HTTP and no SQL:
// doors call it, and it reaches the database through Store.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/causeway-ai/causeway/internal/memory"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/tool"
)

// Store is what the runtime needs of the database; *store.Store has it.
type Store interface {
	SaveResponse(ctx context.Context, o store.Owner, r *store.Response, input, output []store.Item, events []json.RawMessage) error
	CreateBackground(ctx context.Context, o store.Owner, r *store.Response) error
	UpdateBackground(ctx context.Context, o store.Owner, id, status string, body json.RawMessage, leaseUntil time.Time) error
	EndBackground(ctx context.Context, o store.Owner, id, status, errMsg string, body json.RawMessage) (bool, error)
	AppendResponseEvents(ctx context.Context, o store.Owner, id string, first int64, events []json.RawMessage) error
	GetResponse(ctx context.Context, o store.Owner, id string) (*store.Response, error)
	DeleteResponse(ctx context.Context, o store.Owner, id string) error
	ResponseItems(ctx context.Context, o store.Owner, id, kind string, p store.Page) ([]store.Item, bool, error)
	ResponseEvents(ctx context.Context, o store.Owner, id string, after int64) ([]json.RawMessage, error)
	FindItem(ctx context.Context, o store.Owner, id string) (*store.Item, error)
	OutputItem(ctx context.Context, o store.Owner, id string) (*store.Item, error)
	ListResponses(ctx context.Context, o store.Owner, p store.Page) ([]store.Response, bool, error)

	CreateConversation(ctx context.Context, o store.Owner, c *store.Conversation, items []store.Item) error
	GetConversation(ctx context.Context, o store.Owner, id string) (*store.Conversation, error)
	ListConversations(ctx context.Context, o store.Owner, p store.Page) ([]store.Conversation, bool, error)
	UpdateConversation(ctx context.Context, o store.Owner, id string, metadata json.RawMessage) (*store.Conversation, error)
	DeleteConversation(ctx context.Context, o store.Owner, id string) (store.Erased, error)
	AddConversationItems(ctx context.Context, o store.Owner, id string, items []store.Item) error
	ConversationItems(ctx context.Context, o store.Owner, id string, p store.Page) ([]store.Item, bool, error)
	ConversationItem(ctx context.Context, o store.Owner, id, itemID string) (*store.Item, error)
	DeleteConversationItem(ctx context.Context, o store.Owner, id, itemID string) error
}

var _ Store = (*store.Store)(nil)

// Runtime runs responses.
type Runtime struct {
	GW    *gateway.Gateway
	Store Store
	// Tools are the server-side tools a request may list as
	// {"type": "causeway", "name": …}; nil means none.
	Tools *tool.Registry
	// MaxSteps returns the cap on one response's model calls (the
	// configuration's tools.max_steps); nil or 0 means DefaultMaxSteps.
	MaxSteps func() int
	// Meter records each server-side tool call; nil records nothing.
	Meter Meter
	// Memory recalls long-term memories for requests that ask for them
	// ("memory": {...}); nil means recall is off.
	Memory Recaller
	// Extract learns memories from stored turns whose request asked for
	// memory; nil means extraction is off.
	Extract Extractor
	// MaxResponseCost caps one response's model calls' cost, in nano-USD
	// (tools.max_response_cost_usd); nil or 0 means no cap.
	MaxResponseCost func() int64
	// NeedsApproval reports whether the configuration requires a
	// person's approval of calls to a server-side tool; nil means none.
	NeedsApproval func(name string) bool
	// Ledger reads the usage ledger for the cost routes; nil means they
	// answer that cost is not available.
	Ledger Ledger

	// Observe, when set, is told what the runtime does, for metrics.
	Observe Observer
	// Tick is how often a background response writes its events and
	// renews its lease (and a reader at another replica polls); 0 means
	// one second.
	Tick time.Duration

	bg jobs
	// starting are the stored foreground responses of this process whose
	// rows are being written (id → closed when written), so that a read
	// right after response.created waits for the row instead of a 404.
	starting sync.Map
	// Compaction returns the configuration's compaction section in
	// force (read at each use: a reload changes it); nil, or a nil
	// answer, means none (requests that ask for compaction get the
	// defaults).
	Compaction func() *CompactionSettings
}

// Observer is told what the runtime does, for metrics.
type Observer interface {
	// ToolCall reports a server-side tool call's outcome: "ok", "error",
	// "refused" or "approval_requested".
	ToolCall(tool, outcome string)
	// Background reports background responses starting (+1) and ending
	// (-1) in this process.
	Background(delta int)
}

// Recaller finds a subject's long-term memories that match a query.
type Recaller interface {
	Recall(ctx context.Context, p *identity.Principal, o store.Owner, namespace, query string, k int) ([]memory.Record, error)
}

// Extractor learns long-term memories from a stored turn. AfterTurn must
// not block: the response is being answered.
type Extractor interface {
	AfterTurn(p *identity.Principal, o store.Owner, t memory.Turn)
}

// extract hands a stored, completed turn whose request asked for memory
// (and did not opt out with "extract": false) to the extractor.
func (rt *Runtime) extract(p *identity.Principal, o store.Owner, cp *CreateParams, b *builder, input []wire.Item) {
	m := cp.Req.Memory
	if rt.Extract == nil || m == nil || (m.Extract != nil && !*m.Extract) || !b.resp.Store || b.resp.Status != "completed" {
		return
	}
	t := memory.Turn{ResponseID: b.resp.ID, ConversationID: cp.ConversationID, Namespace: m.Namespace}
	for _, it := range append(append([]wire.Item(nil), input...), b.resp.Output...) {
		if it.Type != "message" || (it.Role != "user" && it.Role != "assistant") {
			continue
		}
		msgs, err := ToMessages([]wire.Item{it})
		if err != nil || len(msgs) == 0 || strings.TrimSpace(msgs[0].Text()) == "" {
			continue
		}
		t.Messages = append(t.Messages, memory.TurnMessage{ItemID: it.ID, Role: it.Role, Text: msgs[0].Text()})
	}
	rt.Extract.AfterTurn(p, o, t)
}

// recall finds the caller's long-term memories that match the request's
// user input, once per response: the system message that carries them
// under a visible marker (nil for none) and their ids. withMemory puts
// the message in each model request the response makes.
func (rt *Runtime) recall(ctx context.Context, p *identity.Principal, o store.Owner, cp *CreateParams, input []wire.Item) (*llm.Message, []string, error) {
	m := cp.Req.Memory
	if m == nil || rt.Memory == nil {
		return nil, nil, nil
	}
	k := m.K
	if k <= 0 {
		k = 5
	}
	if k > 20 {
		return nil, nil, invalid("memory.k", "Invalid 'memory.k': at most 20 memories may be recalled.")
	}
	ns := m.Namespace
	if ns == "" {
		ns = "default"
	}
	msgs, err := ToMessages(input)
	if err != nil {
		return nil, nil, err
	}
	var query strings.Builder
	for i := range msgs {
		if msgs[i].Role == llm.RoleUser {
			query.WriteString(msgs[i].Text())
			query.WriteByte(' ')
		}
	}
	if strings.TrimSpace(query.String()) == "" {
		return nil, nil, nil
	}
	recs, err := rt.Memory.Recall(ctx, p, o, ns, query.String(), k)
	if err != nil || len(recs) == 0 {
		return nil, nil, err
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	msg := llm.TextMessage(llm.RoleSystem, memory.Format(recs))
	return &msg, ids, nil
}

// withMemory puts the recalled memories' message in req: after the
// instructions, before the conversation.
func withMemory(cp *CreateParams, req *llm.Request, msg *llm.Message) {
	if msg == nil {
		return
	}
	at := 0
	if len(req.Messages) > 0 && req.Messages[0].Role == llm.RoleSystem && cp.Req.Instructions != nil {
		at = 1
	}
	req.Messages = append(req.Messages[:at], append([]llm.Message{*msg}, req.Messages[at:]...)...)
}

// maxChain bounds how far back a previous_response_id chain is followed.
const maxChain = 1000

// OwnerOf is whose stored state a principal sees: its tenant, and the
// key's user, or the key itself when it names no user.
func OwnerOf(p *identity.Principal) store.Owner {
	o := store.Owner{Tenant: p.Tenant, Subject: p.User}
	if p.Key != nil {
		o.Subject = p.Key.User
		if o.Subject == "" {
			o.Subject = p.Key.ID
		}
	}
	if o.Subject == "" {
		o.Subject = "admin"
	}
	return o
}

// CreateParams is a decoded, validated create request.
type CreateParams struct {
	Req *wire.CreateRequest
	// Input is the request's input items as given.
	Input []wire.Item
	// ConversationID is the conversation named by the request, if any.
	ConversationID string
	// Body is the request body as received, stored with the response.
	Body json.RawMessage
}

// Emit sends one stream event (its type and JSON) to the client.
type Emit func(typ string, data []byte) error

// mapStoreErr turns the store's not-found into a client 404.
func mapStoreErr(err error, param, msg string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(param, msg)
	}
	return err
}

// history loads what comes before the request's input: the chain of
// previous responses, or the conversation's items.
func (rt *Runtime) history(ctx context.Context, o store.Owner, cp *CreateParams) ([]wire.Item, error) {
	if cp.ConversationID != "" {
		if _, err := rt.Store.GetConversation(ctx, o, cp.ConversationID); err != nil {
			return nil, mapStoreErr(err, "conversation", "Conversation with id '"+cp.ConversationID+"' not found.")
		}
		items, _, err := rt.Store.ConversationItems(ctx, o, cp.ConversationID, store.Page{})
		if err != nil {
			return nil, err
		}
		w, err := decodeItems(items)
		if err != nil {
			return nil, err
		}
		return fromLatestCompaction(w) // compaction
	}
	if cp.Req.PreviousResponseID == nil || *cp.Req.PreviousResponseID == "" {
		return nil, nil
	}
	var chain []string
	id := *cp.Req.PreviousResponseID
	for id != "" && len(chain) < maxChain {
		r, err := rt.Store.GetResponse(ctx, o, id)
		if err != nil {
			if len(chain) > 0 && errors.Is(err, store.ErrNotFound) {
				break // an ancestor was deleted: the chain starts here
			}
			return nil, mapStoreErr(err, "previous_response_id", "Previous response with id '"+id+"' not found.")
		}
		if !terminal(r.Status) {
			return nil, invalid("previous_response_id", "Previous response with id '"+r.ID+"' is still in progress; wait until it ends.")
		}
		chain = append(chain, r.ID)
		id = r.PreviousResponseID
	}
	var out []wire.Item
	for i := len(chain) - 1; i >= 0; i-- {
		for _, kind := range []string{store.KindInput, store.KindOutput} {
			items, _, err := rt.Store.ResponseItems(ctx, o, chain[i], kind, store.Page{})
			if err != nil {
				return nil, err
			}
			w, err := decodeItems(items)
			if err != nil {
				return nil, err
			}
			out = append(out, w...)
		}
	}
	return fromLatestCompaction(out) // compaction
}

func decodeItems(items []store.Item) ([]wire.Item, error) {
	out := make([]wire.Item, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it.Body, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func encodeItems(items []wire.Item) ([]store.Item, error) {
	out := make([]store.Item, len(items))
	for i, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		out[i] = store.Item{ID: it.ID, Type: it.Type, Body: b}
	}
	return out, nil
}

// resolve replaces item references with the items they name, looked up
// in the context first and then among the owner's stored items.
func (rt *Runtime) resolve(ctx context.Context, o store.Owner, hist, input []wire.Item) ([]wire.Item, error) {
	out := make([]wire.Item, 0, len(input))
	for _, it := range input {
		if it.Type != "item_reference" {
			out = append(out, Normalize(it))
			continue
		}
		var found *wire.Item
		for i := range hist {
			if hist[i].ID == it.ID {
				found = &hist[i]
				break
			}
		}
		if found == nil {
			si, err := rt.Store.FindItem(ctx, o, it.ID)
			if err != nil {
				return nil, mapStoreErr(err, "input", "Item with id '"+it.ID+"' not found.")
			}
			var w wire.Item
			if err := json.Unmarshal(si.Body, &w); err != nil {
				return nil, err
			}
			found = &w
		}
		out = append(out, *found)
	}
	return out, nil
}

// request builds the canonical request for the context.
func request(cp *CreateParams, items []wire.Item, ts *toolset) (*llm.Request, error) {
	r := cp.Req
	msgs, err := ToMessages(items)
	if err != nil {
		return nil, err
	}
	if r.Instructions != nil && *r.Instructions != "" {
		msgs = append([]llm.Message{llm.TextMessage(llm.RoleSystem, *r.Instructions)}, msgs...)
	}
	req := &llm.Request{Model: r.Model, Messages: msgs, Stream: r.Stream,
		ParallelToolCalls: r.ParallelToolCalls, Temperature: r.Temperature, TopP: r.TopP}
	if r.MaxOutputTokens != nil {
		req.MaxTokens = *r.MaxOutputTokens
	}
	switch {
	case r.SafetyIdentifier != nil:
		req.User = *r.SafetyIdentifier
	case r.User != nil:
		req.User = *r.User
	}
	if r.Reasoning != nil && r.Reasoning.Effort != nil {
		req.ReasoningEffort = *r.Reasoning.Effort
	}
	req.Tools = ts.llm
	if len(r.ToolChoice) > 0 {
		var s string
		if json.Unmarshal(r.ToolChoice, &s) == nil {
			req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceMode(s)}
		} else {
			var tc struct{ Type, Name string }
			if err := json.Unmarshal(r.ToolChoice, &tc); err != nil {
				return nil, invalid("tool_choice", "Invalid 'tool_choice'.")
			}
			req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: tc.Name}
		}
	}
	if r.Text != nil && r.Text.Format != nil {
		f := r.Text.Format
		switch f.Type {
		case "json_schema":
			req.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: f.Name,
				Description: f.Description, Schema: f.Schema, Strict: f.Strict}
		case "json_object":
			req.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject}
		}
	}
	return req, nil
}

// Create runs a response. With emit (a streamed request) it sends the
// stream's events as they happen; errors it returns came before the
// first event, except a failed write to the client. A failure after the
// first event ends the stream with response.failed and is not returned.
//
// When the model calls server-side tools the request listed, the runtime
// runs them (as the principal, in parallel), appends each call's
// function_call_output, and calls the model again, up to MaxSteps model
// calls; see docs/runtime.md.
func (rt *Runtime) Create(ctx context.Context, p *identity.Principal, cp *CreateParams, emit Emit) (*wire.Response, error) {
	if gateway.Info(ctx) == nil {
		ctx = gateway.WithRequestInfo(ctx, &gateway.RequestInfo{ID: gateway.NewRequestID()})
	}
	// The response's id comes first, so that every call made for it —
	// a compaction, a memory recall's embedding — is tied to it.
	id := identity.NewID("resp_")
	ctx = gateway.WithUsageTie(ctx, id, cp.ConversationID)
	pr, err := rt.prepare(ctx, p, cp, false)
	if err != nil {
		return nil, err
	}
	pr.id = id
	if cp.Req.Background != nil && *cp.Req.Background {
		return rt.createBackground(ctx, pr, emit)
	}
	b := pr.builder(emit)
	if b.resp.Store {
		// Readable (in_progress) while it runs, as on OpenAI: known here
		// before response.created is sent, its row written as it starts.
		st := newStarting()
		rt.starting.Store(b.resp.ID, st)
		defer func() { st.written(); rt.starting.Delete(b.resp.ID) }()
		b.onStart = func() { rt.startPending(ctx, pr, b, st) }
	}
	resp, err := rt.run(ctx, pr, b)
	if err != nil {
		// It may have started, then ended without being saved.
		rt.endRow(ctx, pr.o, b, err)
	}
	return resp, err
}

// endRow ends as failed the row written when a stored foreground
// response started, when the response itself could not be saved.
func (rt *Runtime) endRow(ctx context.Context, o store.Owner, b *builder, err error) {
	if !b.hasRow() {
		return
	}
	msg := "The response did not complete: " + llm.AsError(err).Message
	snap := *b.resp
	snap.Status, snap.Error = "failed", &wire.Error{Code: "server_error", Message: msg}
	body, _ := json.Marshal(&snap)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	_, _ = rt.Store.EndBackground(ctx, o, b.resp.ID, "failed", msg, body)
}

// prepared is a checked create request: its context and the canonical
// request of its first model call.
type prepared struct {
	p     *identity.Principal
	cp    *CreateParams
	o     store.Owner
	hist  []wire.Item
	input []wire.Item
	// ctxInput is the part of input the model sees (compaction may
	// summarise some of it); input is stored as given.
	ctxInput []wire.Item
	// cmp is the compaction made for the response, if any.
	cmp       *compacted
	all       []wire.Item
	ts        *toolset
	req       *llm.Request
	memory    *llm.Message // the recalled memories, nil for none
	memoryIDs []string
	// approvals are the tool calls waiting for approval that this
	// request answers.
	approvals []approval
	// id is the response's id.
	id string
}

// builder starts the response's builder.
func (pr *prepared) builder(emit Emit) *builder {
	b := newBuilder(pr.cp, emit)
	if pr.id != "" {
		b.resp.ID = pr.id
	}
	return b
}

// prepare loads the request's context and builds its first model
// request. Its errors are the client's (4xx) or the store's. A count
// (input_tokens) makes no model call: no compaction summary, no memory
// recall.
func (rt *Runtime) prepare(ctx context.Context, p *identity.Principal, cp *CreateParams, count bool) (*prepared, error) {
	pr := &prepared{p: p, cp: cp, o: OwnerOf(p)}
	var err error
	if pr.hist, err = rt.history(ctx, pr.o, cp); err != nil {
		return nil, err
	}
	if pr.input, err = rt.resolve(ctx, pr.o, pr.hist, cp.Input); err != nil {
		return nil, err
	}
	// compaction: the context from its latest compaction item, and old
	// turns summarised when the request asks for it.
	if pr.hist, pr.ctxInput, pr.cmp, err = rt.compactContext(ctx, p, cp, pr.hist, pr.input, count); err != nil {
		return nil, err
	}
	pr.all = append(append([]wire.Item(nil), pr.hist...), pr.ctxInput...)
	var waiting map[string]bool
	if pr.approvals, waiting, err = rt.approvals(ctx, pr.o, pr.hist, pr.ctxInput); err != nil {
		return nil, err
	}
	if err := checkToolPairs(pr.all, waiting); err != nil {
		return nil, err
	}
	if pr.ts, err = rt.toolsFor(p, cp.Req); err != nil {
		return nil, err
	}
	if pr.req, err = request(cp, pr.all, pr.ts); err != nil {
		return nil, err
	}
	if count {
		return pr, nil
	}
	if pr.memory, pr.memoryIDs, err = rt.recall(ctx, p, pr.o, cp, pr.input); err != nil {
		return nil, err
	}
	withMemory(cp, pr.req, pr.memory)
	return pr, nil
}

// run runs a prepared response to its end with b, which streams it when
// it has an emitter.
func (rt *Runtime) run(ctx context.Context, pr *prepared, b *builder) (*wire.Response, error) {
	p, cp, o, hist, input, all, ts, req := pr.p, pr.cp, pr.o, pr.hist, pr.input, pr.all, pr.ts, pr.req
	ctx = gateway.WithUsageTie(ctx, b.resp.ID, cp.ConversationID) // usage: tie records to the response
	ctxInput, cmp := pr.ctxInput, pr.cmp                          // compaction
	rid := gateway.RequestID(ctx)
	l := &loop{rt: rt, p: p, cp: cp, ts: ts, rid: rid, counts: repeatCounts(all)}
	maxSteps := rt.maxSteps()
	budget := rt.budget(cp)
	var spent int64
	b.memoryIDs = pr.memoryIDs
	// answered are the outputs of the calls a person answered; they stay
	// in the context however it is cut (truncation "auto" never drops the
	// calls they answer, cutLimit).
	var answered []wire.Item
	cutLimit := len(hist)
	compacted := false
	if len(pr.approvals) > 0 {
		// Calls a person has answered run (or are refused) first, after
		// the compaction made for this response (the first output item,
		// so that the next turn, which starts at it, has their outputs).
		if err := b.start(); err != nil {
			return nil, err
		}
		if err := b.addCompaction(cmp); err != nil {
			return nil, err
		}
		spent += cmp.cost() // compaction: counts toward the response's cost cap
		compacted = true
		from := len(b.resp.Output)
		if err := l.answered(ctx, b, pr.approvals); err != nil {
			return nil, err
		}
		answered = append(answered, b.resp.Output[from:]...)
		all = append(all, answered...)
		for _, a := range pr.approvals {
			for i := range hist {
				if hist[i].Type == "function_call" && hist[i].CallID == a.call.CallID {
					cutLimit = min(cutLimit, i)
				}
			}
		}
		var err error
		if req, err = request(cp, all, ts); err != nil {
			return rt.failed(ctx, o, cp, b, input, err)
		}
		withMemory(cp, req, pr.memory)
	}
	for step := 1; ; step++ {
		sctx, srid := ctx, rid
		if step > 1 {
			sctx, srid = stepContext(ctx, rid, step)
		}
		call, err := rt.GW.Chat(sctx, p, req)
		if step == 1 && err != nil && truncateAuto(cp) && isContextLength(err) && cmp == nil && len(answered) == 0 && rt.compactOnTruncate() {
			// compaction: truncation "auto" compacts first, when configured;
			// when that fails or is not enough, turns are dropped below.
			if h, in, c, cerr := rt.compactSplit(ctx, p, cp, hist, ctxInput, rt.compactionSettings()); cerr == nil && c != nil {
				hist, ctxInput, cmp = h, in, c
				all = append(append([]wire.Item(nil), hist...), ctxInput...)
				if req, err = request(cp, all, ts); err != nil {
					return nil, err
				}
				withMemory(cp, req, pr.memory)
				b.requestIDs = append(b.requestIDs, srid)
				sctx, srid = withRequestID(ctx, rid+"-compacted")
				call, err = rt.GW.Chat(sctx, p, req)
			}
		}
		for cut := 0; step == 1 && err != nil && truncateAuto(cp) && isContextLength(err); {
			// truncation "auto": drop the oldest turns of the history
			// (never the request's own input) and try again.
			var ok bool
			if cut, ok = nextCut(hist, cut); !ok || cut > cutLimit {
				break
			}
			kept := append(append(append([]wire.Item(nil), hist[cut:]...), ctxInput...), answered...)
			if req, err = request(cp, kept, ts); err != nil {
				return nil, err
			}
			withMemory(cp, req, pr.memory)
			b.requestIDs = append(b.requestIDs, srid)
			sctx, srid = stepContext(ctx, rid, 1000+cut)
			call, err = rt.GW.Chat(sctx, p, req)
		}
		if err != nil {
			if step == 1 && !b.started {
				return nil, err
			}
			return rt.failed(ctx, o, cp, b, input, err)
		}
		b.requestIDs = append(b.requestIDs, srid)
		if step == 1 {
			if err := b.start(); err != nil {
				call.Finish(err)
				return nil, err
			}
			// compaction: the compaction made is the first output item.
			if !compacted {
				if err := b.addCompaction(cmp); err != nil {
					call.Finish(err)
					return nil, err
				}
				spent += cmp.cost() // compaction: counts toward the response's cost cap
			}
		}
		b.nextStep()
		b.family = call.Family
		if n := foreignReasoning(all, call.Family); n > 0 {
			b.note(strconv.Itoa(n) + " reasoning item(s) made by another provider family were not sent to " + call.Provider)
		}
		for {
			ev, err := call.Next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					call.Finish(nil)
					spent += call.Cost()
					break
				}
				call.Finish(nil)
				if b.emit == nil && step == 1 && len(answered) == 0 {
					// A whole response that failed before anything ran
					// is the client's error; once approved calls have
					// run, it is stored failed with their outputs.
					return nil, err
				}
				return rt.failed(ctx, o, cp, b, input, err)
			}
			if werr := b.add(&ev); werr != nil {
				call.Finish(werr)
				return nil, werr
			}
		}
		if err := b.closeAll(); err != nil {
			return nil, err
		}
		calls := b.stepCalls()
		if len(calls) == 0 || b.finish == llm.FinishLength || b.finish == llm.FinishContentFilter {
			break
		}
		oc, err := l.runCalls(ctx, b, calls)
		if err != nil {
			return nil, err
		}
		if oc.clientCalls || oc.stop || oc.approval {
			b.stop = oc.reason
			break
		}
		if step >= maxSteps {
			b.stop = reasonMaxToolCalls
			break
		}
		if budget > 0 && spent >= budget {
			b.stop = reasonMaxCost
			break
		}
		if err := context.Cause(ctx); err != nil {
			// Cancelled between steps (a background response's cancel).
			return rt.failed(ctx, o, cp, b, input, err)
		}
		all = append(all, b.resp.Output[b.stepStart:]...)
		if req, err = request(cp, all, ts); err != nil {
			return rt.failed(ctx, o, cp, b, input, err)
		}
		withMemory(cp, req, pr.memory) // every step sees what was recalled
	}
	if err := b.end(); err != nil {
		return nil, err
	}
	if err := rt.save(ctx, o, cp, b, input); err != nil {
		if b.emit != nil && b.started && !b.resp.Background {
			// The stream has begun: it ends failed (a background
			// response's run records that itself).
			b.fail(err)
			return b.resp, b.finishStream()
		}
		return nil, err
	}
	rt.extract(p, o, cp, b, input) // memory extraction
	return b.resp, b.finishStream()
}

// failed ends the response as failed after its first event (or, whole,
// after a first model call): it is stored and returned with its error.
func (rt *Runtime) failed(ctx context.Context, o store.Owner, cp *CreateParams, b *builder, input []wire.Item, err error) (*wire.Response, error) {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errCancelled):
		b.cancelled()
	case errors.Is(cause, errShutdown):
		b.fail(cause)
	default:
		b.fail(err)
	}
	if serr := rt.save(ctx, o, cp, b, input); serr != nil {
		return nil, serr
	}
	return b.resp, b.finishStream()
}

// save stores the response unless the request said store:false.
func (rt *Runtime) save(ctx context.Context, o store.Owner, cp *CreateParams, b *builder, input []wire.Item) error {
	if !b.resp.Store {
		return nil
	}
	// Record the final event in the replay too, before it is sent.
	b.prepareFinal()
	in, err := encodeItems(input)
	if err != nil {
		return err
	}
	out, err := encodeItems(b.resp.Output)
	if err != nil {
		return err
	}
	body, err := json.Marshal(b.resp)
	if err != nil {
		return err
	}
	usage, _ := json.Marshal(b.resp.Usage)
	output, _ := json.Marshal(b.resp.Output)
	meta, _ := json.Marshal(b.resp.Metadata)
	r := &store.Response{ID: b.resp.ID, Model: b.resp.Model, Status: b.resp.Status, ConversationID: cp.ConversationID,
		Request: cp.Body, Output: output, Usage: usage, Metadata: meta, Store: true, Body: body, Background: b.resp.Background}
	// A row written as it started is completed, not inserted.
	r.Pending = b.hasRow()
	r.CreatedAt = b.created.UTC().Truncate(time.Microsecond)
	if b.resp.PreviousResponseID != nil {
		r.PreviousResponseID = *b.resp.PreviousResponseID
	}
	if b.resp.Instructions != nil {
		r.Instructions = *b.resp.Instructions
	}
	if b.resp.Error != nil {
		r.Error = b.resp.Error.Message
	}
	// Saved even when the client has gone or the run was cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := rt.Store.SaveResponse(ctx, o, r, in, out, b.events); err != nil {
		b.unprepareFinal()
		if r.Pending {
			rt.endRow(ctx, o, b, err)
		}
		return mapStoreErr(err, "conversation", "Conversation with id '"+cp.ConversationID+"' not found.")
	}
	return nil
}

func truncateAuto(cp *CreateParams) bool {
	return cp.Req.Truncation != nil && *cp.Req.Truncation == "auto"
}

// isContextLength reports whether an upstream refused the request as too
// long for the model's context.
func isContextLength(err error) bool {
	e := llm.AsError(err)
	if e.Kind != llm.KindInvalid {
		return false
	}
	m := strings.ToLower(e.Message)
	return e.Code == "context_length_exceeded" || strings.Contains(m, "context length") ||
		strings.Contains(m, "prompt is too long") || strings.Contains(m, "input is too long")
}

// nextCut returns where the history is cut next for truncation "auto":
// past at least half of what is left, moved on to the start of a user
// turn so that no tool call is separated from its output. ok is false
// when there is nothing left to drop.
func nextCut(hist []wire.Item, cut int) (int, bool) {
	if cut >= len(hist) {
		return cut, false
	}
	next := cut + max(1, (len(hist)-cut)/2)
	for next < len(hist) && !(hist[next].Type == "message" && hist[next].Role == "user") {
		next++
	}
	return next, true
}
