package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	wire "github.com/causeway-ai/causeway/internal/schema/responses"
	"github.com/causeway-ai/causeway/internal/store"
)

// Human approval of server-side tool calls. A call to a tool that needs
// approval (tools.require_approval in the configuration, or
// "require_approval": "always" on the request's tool) is not run: the
// response ends with an mcp_approval_request item, as OpenAI's does for
// MCP tools. The client answers in a later request that continues the
// response (previous_response_id or the conversation) with an
// mcp_approval_response item; an approved call then runs, as the caller,
// before the model is called again, and a declined one gets an output
// saying so. A request that continues without answering declines what
// waits.

// approval is a waiting call and the answer this request gives it.
type approval struct {
	req     wire.Item // the mcp_approval_request
	call    wire.Item // the function_call it holds back
	approve bool
	reason  string
	// answeredAt is the input index of its answer, -1 for none.
	answeredAt int
}

// approvals finds the approval requests of the context whose calls have
// no output yet, and pairs them with the answers in the request's input.
// An approval request counts only if the runtime made it: it must be an
// output item of one of the owner's stored responses, and what runs is
// that stored item's tool and arguments. A request a client wrote (into
// its input, a conversation, a compaction it built) is never a licence to
// run a tool. waiting is the call ids the genuine requests hold back.
func (rt *Runtime) approvals(ctx context.Context, o store.Owner, hist, input []wire.Item) ([]approval, map[string]bool, error) {
	list, err := waitingApprovals(hist, input)
	if err != nil {
		return nil, nil, err
	}
	kept := list[:0]
	for _, a := range list {
		g, ok, err := rt.genuine(ctx, o, a)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case ok:
			kept = append(kept, g)
		case a.answeredAt >= 0:
			return nil, nil, invalid("input["+strconv.Itoa(a.answeredAt)+"].approval_request_id",
				"No pending approval request found with id '"+a.req.ID+"'.")
		}
	}
	if len(kept) == 0 {
		return nil, nil, nil
	}
	waiting := make(map[string]bool, len(kept))
	for _, a := range kept {
		waiting[a.call.CallID] = true
	}
	return kept, waiting, nil
}

// genuine returns the approval as the runtime stored it, and false when
// the runtime did not make its request (or made it for another call).
func (rt *Runtime) genuine(ctx context.Context, o store.Owner, a approval) (approval, bool, error) {
	si, err := rt.Store.OutputItem(ctx, o, a.req.ID)
	if errors.Is(err, store.ErrNotFound) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	var req wire.Item
	if err := json.Unmarshal(si.Body, &req); err != nil || req.Type != "mcp_approval_request" || callOf(&req) != a.call.CallID {
		return a, false, nil
	}
	a.req = req
	a.call = wire.Item{Type: "function_call", CallID: a.call.CallID, Name: req.Name, Arguments: req.Arguments}
	return a, true, nil
}

// callOf is the call id an approval request holds back.
func callOf(it *wire.Item) string {
	var ext struct {
		CallID string `json:"call_id"`
	}
	_ = json.Unmarshal(it.Causeway, &ext)
	return ext.CallID
}

// waitingApprovals pairs the context's approval requests whose calls have no
// output yet with the input's answers (answers to anything else are a
// 400). Whether the runtime made them is checked by approvals.
func waitingApprovals(hist, input []wire.Item) ([]approval, error) {
	done := map[string]bool{}
	calls := map[string]wire.Item{}
	for _, items := range [][]wire.Item{hist, input} {
		for _, it := range items {
			switch it.Type {
			case "function_call_output":
				done[it.CallID] = true
			case "function_call":
				calls[it.CallID] = it
			}
		}
	}
	var list []approval
	byID := map[string]int{}
	for _, it := range hist {
		if it.Type != "mcp_approval_request" || it.ServerLabel != approvalLabel {
			continue
		}
		id := callOf(&it)
		call, ok := calls[id]
		if !ok || done[id] {
			continue
		}
		byID[it.ID] = len(list)
		list = append(list, approval{req: it, call: call, reason: "no approval was given", answeredAt: -1})
	}
	for i, it := range input {
		if it.Type != "mcp_approval_response" {
			continue
		}
		k, ok := byID[it.ApprovalRequestID]
		param := "input[" + strconv.Itoa(i) + "].approval_request_id"
		if !ok {
			return nil, invalid(param, "No pending approval request found with id '"+it.ApprovalRequestID+"'.")
		}
		a := &list[k]
		if a.answeredAt >= 0 {
			return nil, invalid(param, "Approval request '"+it.ApprovalRequestID+"' is answered twice.")
		}
		a.answeredAt = i
		a.approve = it.Approve != nil && *it.Approve
		a.reason = ""
		if it.Reason != nil {
			a.reason = *it.Reason
		}
	}
	return list, nil
}

// answered runs the approved calls and refuses the others, adding an
// output for each.
func (l *loop) answered(ctx context.Context, b *builder, list []approval) error {
	work := make([]*pending, 0, len(list))
	for _, a := range list {
		pd := &pending{call: a.call, approvedBy: a.req.ID}
		st, offered := l.ts.server[a.call.Name]
		switch {
		case !a.approve:
			pd.refuse = "the user did not approve this call"
			if a.reason != "" {
				pd.refuse += ": " + a.reason
			}
			pd.meta = map[string]any{"refused": true, "reason": "not_approved"}
		case !offered:
			// Approved, but this request does not offer the tool (or the
			// key no longer allows it).
			pd.refuse = "tool " + a.call.Name + " is not allowed for this key"
			pd.meta = map[string]any{"refused": true, "reason": "not_allowed"}
		default:
			pd.tool = st
			l.executed++
		}
		work = append(work, pd)
	}
	return l.execute(ctx, b, work)
}
