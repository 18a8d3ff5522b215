package runtime

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
	"github.com/causeway-ai/causeway/internal/tool"
)

// Meter records usage; *billing.Meter is one.
type Meter interface {
	Record(r billing.Record)
}

// DefaultMaxSteps caps the model calls of one response's tool loop when
// the configuration does not.
const DefaultMaxSteps = 8

// repeatLimit is how many identical calls (name and arguments) since the
// last user message stop the loop.
const repeatLimit = 3

// toolAttemptBase numbers tool calls' usage records (attempt 1001, 1002 …
// of the response's request id) apart from its model calls' attempts.
const toolAttemptBase = 1000

// Reasons and messages of the tool loop.
const (
	reasonMaxToolCalls = "max_tool_calls"
	reasonMaxCost      = "max_cost"
	msgRepeated        = "repeated identical call"
)

// toolset is what a request may call: the client's function tools, and
// the server-side tools offered (those it listed that the key allows).
type toolset struct {
	client map[string]bool
	server map[string]tool.Tool
	llm    []llm.Tool
	// approval are the server-side tools whose calls wait for a
	// person's approval.
	approval map[string]bool
}

// allowsTool reports whether the principal may use a server-side tool:
// the admin principal may use all, a key those it lists.
func allowsTool(p *identity.Principal, name string) bool {
	if p.Key == nil {
		return p.Admin
	}
	return p.Key.AllowsTool(name)
}

// toolsFor resolves the request's tools. A "causeway" tool must be
// registered and allowed for the key, else the request is refused
// before the model sees anything (one message for both, so a key cannot
// probe which tools exist).
func (rt *Runtime) toolsFor(p *identity.Principal, r *wire.CreateRequest) (*toolset, error) {
	ts := &toolset{client: map[string]bool{}, server: map[string]tool.Tool{}, approval: map[string]bool{}}
	for i, raw := range r.Tools {
		var t wire.FunctionTool
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, invalid("tools", "Invalid 'tools': "+err.Error())
		}
		param := "tools[" + strconv.Itoa(i) + "].name"
		if ts.client[t.Name] || ts.server[t.Name] != nil {
			return nil, invalid(param, "Duplicate tool name '"+t.Name+"'.")
		}
		if t.Type == "causeway" {
			var st tool.Tool
			ok := false
			if rt.Tools != nil && allowsTool(p, t.Name) {
				st, ok = rt.Tools.Get(t.Name)
			}
			if !ok {
				return nil, invalid(param, "Tool '"+t.Name+"' is not available to this key.")
			}
			ts.server[t.Name] = st
			if t.RequireApproval == "always" || (rt.NeedsApproval != nil && rt.NeedsApproval(t.Name)) {
				ts.approval[t.Name] = true
			}
			ts.llm = append(ts.llm, llm.Tool{Name: t.Name, Description: st.Description(), Parameters: st.Parameters()})
			continue
		}
		ts.client[t.Name] = true
		lt := llm.Tool{Name: t.Name, Parameters: t.Parameters, Strict: t.Strict}
		if t.Description != nil {
			lt.Description = *t.Description
		}
		ts.llm = append(ts.llm, lt)
	}
	return ts, nil
}

// budget is the cap on the response's model calls' cost in nano-USD (0:
// none): the lower of the configuration's and the request's.
func (rt *Runtime) budget(cp *CreateParams) int64 {
	var b int64
	if rt.MaxResponseCost != nil {
		b = rt.MaxResponseCost()
	}
	if m := cp.Req.MaxCostUSD; m != nil && *m > 0 {
		if r := billing.FromUSD(*m); b == 0 || r < b {
			b = r
		}
	}
	return b
}

func (rt *Runtime) maxSteps() int {
	if rt.MaxSteps != nil {
		if n := rt.MaxSteps(); n > 0 {
			return n
		}
	}
	return DefaultMaxSteps
}

// callKey identifies a call for repetition counting.
func callKey(it *wire.Item) string {
	args := ""
	if it.Arguments != nil {
		args = *it.Arguments
	}
	return it.Name + "\x00" + args
}

// repeatCounts counts the function calls since the last user message of
// the context.
func repeatCounts(items []wire.Item) map[string]int {
	start := 0
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].Type == "message" && items[i].Role == "user" {
			start = i + 1
			break
		}
	}
	counts := map[string]int{}
	for i := start; i < len(items); i++ {
		if items[i].Type == "function_call" {
			counts[callKey(&items[i])]++
		}
	}
	return counts
}

// loop is the state of one response's tool loop.
type loop struct {
	rt       *Runtime
	p        *identity.Principal
	cp       *CreateParams
	ts       *toolset
	rid      string
	counts   map[string]int
	executed int // server tool calls run
	attempts int // tool usage records written
}

// stepOutcome says how a step's tool calls end the step.
type stepOutcome struct {
	// clientCalls: the model called client tools; the response ends
	// with them, as without server tools.
	clientCalls bool
	// stop ends the loop; reason, when set, makes the response
	// incomplete with it.
	stop   bool
	reason string
	// approval: calls wait for approval; the response ends with them.
	approval bool
}

type pending struct {
	call   wire.Item
	out    int // output index of the output item
	tool   tool.Tool
	refuse string
	meta   map[string]any
	result tool.Result
	err    error
	// approvedBy is the approval request a person answered for it.
	approvedBy string
}

// runCalls executes the server-side calls among the step's function
// calls (in parallel), appending and streaming a function_call_output
// for each.
func (l *loop) runCalls(ctx context.Context, b *builder, calls []wire.Item) (stepOutcome, error) {
	var oc stepOutcome
	var work []*pending
	for _, c := range calls {
		if l.ts.client[c.Name] {
			oc.clientCalls = true
			continue
		}
		pd := &pending{call: c}
		k := callKey(&c)
		l.counts[k]++
		st, offered := l.ts.server[c.Name]
		switch {
		case !offered:
			// Never offered (a model that names another tool, e.g. told
			// to by a tool's output): not executed, and visible.
			pd.refuse = "tool " + c.Name + " is not allowed for this key"
			pd.meta = map[string]any{"refused": true, "reason": "not_allowed"}
		case l.counts[k] >= repeatLimit:
			pd.refuse = msgRepeated
			pd.meta = map[string]any{"refused": true, "reason": "repeated"}
			oc.stop = true
		case l.cp.Req.MaxToolCalls != nil && l.executed >= *l.cp.Req.MaxToolCalls:
			pd.refuse = "max_tool_calls reached"
			pd.meta = map[string]any{"refused": true, "reason": reasonMaxToolCalls}
			oc.stop, oc.reason = true, reasonMaxToolCalls
		case l.ts.approval[c.Name]:
			// Waits for a person: an approval request instead of a run.
			req := wire.Item{ID: identity.NewID("mcpr_"), Type: "mcp_approval_request", ServerLabel: approvalLabel,
				Name: c.Name, Arguments: c.Arguments}
			req.Causeway, _ = json.Marshal(map[string]string{"call_id": c.CallID})
			b.resp.Output = append(b.resp.Output, req)
			idx := len(b.resp.Output) - 1
			if err := b.send(&wire.Event{Type: "response.output_item.added", OutputIndex: intp(idx), Item: &req}); err != nil {
				return oc, err
			}
			if err := b.send(&wire.Event{Type: "response.output_item.done", OutputIndex: intp(idx), Item: &req}); err != nil {
				return oc, err
			}
			oc.approval = true
			l.rt.observeTool(c.Name, "approval_requested")
			continue
		default:
			pd.tool = st
			l.executed++
		}
		work = append(work, pd)
	}
	return oc, l.execute(ctx, b, work)
}

// approvalLabel is the server_label of Causeway's approval requests.
const approvalLabel = "causeway"

// execute adds a function_call_output for each call (in progress), runs
// the calls that have a tool in parallel, and completes the outputs.
func (l *loop) execute(ctx context.Context, b *builder, work []*pending) error {
	if len(work) == 0 {
		return nil
	}
	// The outputs are added (in progress), run, then done.
	for _, pd := range work {
		it := wire.Item{ID: identity.NewID("fco_"), Type: "function_call_output", Status: "in_progress",
			CallID: pd.call.CallID, Output: json.RawMessage(`""`)}
		b.resp.Output = append(b.resp.Output, it)
		pd.out = len(b.resp.Output) - 1
		if err := b.send(&wire.Event{Type: "response.output_item.added", OutputIndex: intp(pd.out), Item: &it}); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, pd := range work {
		if pd.tool == nil {
			continue
		}
		l.attempts++
		attempt := toolAttemptBase + l.attempts
		wg.Go(func() { l.exec(ctx, b, pd, attempt) })
	}
	wg.Wait()
	for _, pd := range work {
		it := &b.resp.Output[pd.out]
		out, meta := pd.refuse, pd.meta
		switch {
		case pd.refuse != "":
		case pd.err != nil:
			out = "error: " + pd.err.Error()
			meta = map[string]any{"error": true}
		default:
			out = pd.result.Output
			meta = map[string]any{}
			for k, v := range pd.result.Meta {
				meta[k] = v
			}
			if pd.result.IsError {
				meta["error"] = true
			}
		}
		meta["tool"] = pd.call.Name
		outcome := "ok"
		switch {
		case pd.refuse != "":
			outcome = "refused"
		case pd.err != nil || pd.result.IsError:
			outcome = "error"
		}
		// A tool not offered is named by the model: not a label value.
		label := pd.call.Name
		if _, offered := l.ts.server[label]; !offered {
			label = "(not offered)"
		}
		l.rt.observeTool(label, outcome)
		if pd.approvedBy != "" {
			meta["approval_request_id"] = pd.approvedBy
		}
		it.Output, _ = json.Marshal(out)
		it.Causeway, _ = json.Marshal(meta)
		it.Status = "completed"
		if pd.refuse != "" || pd.err != nil || pd.result.IsError {
			it.Status = "incomplete"
		}
		done := *it
		if err := b.send(&wire.Event{Type: "response.output_item.done", OutputIndex: intp(pd.out), Item: &done}); err != nil {
			return err
		}
	}
	return nil
}

// exec runs one tool as the principal and meters it.
func (l *loop) exec(ctx context.Context, b *builder, pd *pending, attempt int) {
	start := time.Now()
	pd.result, pd.err = pd.tool.Call(ctx, tool.Call{Principal: l.p, Arguments: json.RawMessage(argsOf(&pd.call)),
		ResponseID: b.resp.ID, ConversationID: l.cp.ConversationID})
	if l.rt.Meter == nil {
		return
	}
	status := billing.StatusOK
	if pd.err != nil || pd.result.IsError {
		status = billing.StatusError
	}
	rec := billing.Record{RequestID: l.rid, Attempt: attempt, Tenant: l.p.Tenant, Team: l.p.Team, User: l.p.User,
		Endpoint: billing.EndpointTool, Alias: b.resp.Model, Provider: "tool", UpstreamModel: pd.call.Name,
		Status: status, StartedAt: start, Latency: time.Since(start),
		ResponseID: b.resp.ID, ConversationID: l.cp.ConversationID}
	if l.p.Key != nil {
		rec.KeyID = l.p.Key.ID
	}
	l.rt.Meter.Record(rec)
}

func argsOf(it *wire.Item) string {
	if it.Arguments == nil || *it.Arguments == "" {
		return "{}"
	}
	return *it.Arguments
}

// stepContext gives model call n (from 2) of a response its own request
// id, "<request id>-<n>": the ledger keys usage by request id and attempt.
func stepContext(ctx context.Context, rid string, n int) (context.Context, string) {
	info := gateway.RequestInfo{}
	if cur := gateway.Info(ctx); cur != nil {
		info = *cur
	}
	info.ID = rid + "-" + strconv.Itoa(n)
	return gateway.WithRequestInfo(ctx, &info), info.ID
}

func (rt *Runtime) observeTool(name, outcome string) {
	if rt.Observe != nil {
		rt.Observe.ToolCall(name, outcome)
	}
}
