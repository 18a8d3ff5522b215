package runtime

import (
	"context"
	"encoding/json"
	"strconv"

	wire "github.com/causeway-ai/causeway/internal/schema/responses"
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
}

// approvals finds the approval requests of the stored context (hist)
// whose calls have no output yet, and pairs them with the answers in the
// request's input. Only requests the runtime stored count: an approval
// request in the input (a client replaying a context) is history, never
// a licence to run a tool. waiting is the call ids they hold back.
func approvals(hist, input []wire.Item) ([]approval, map[string]bool, error) {
	done := map[string]bool{}
	for _, items := range [][]wire.Item{hist, input} {
		for _, it := range items {
			if it.Type == "function_call_output" {
				done[it.CallID] = true
			}
		}
	}
	calls := map[string]wire.Item{}
	for _, it := range hist {
		if it.Type == "function_call" {
			calls[it.CallID] = it
		}
	}
	var list []approval
	byID := map[string]int{}
	for _, it := range hist {
		if it.Type != "mcp_approval_request" || it.ServerLabel != approvalLabel {
			continue
		}
		var ext struct {
			CallID string `json:"call_id"`
		}
		_ = json.Unmarshal(it.Causeway, &ext)
		call, ok := calls[ext.CallID]
		if !ok || done[ext.CallID] {
			continue
		}
		byID[it.ID] = len(list)
		list = append(list, approval{req: it, call: call, reason: "no approval was given"})
	}
	answered := map[string]bool{}
	for i, it := range input {
		if it.Type != "mcp_approval_response" {
			continue
		}
		k, ok := byID[it.ApprovalRequestID]
		param := "input[" + strconv.Itoa(i) + "].approval_request_id"
		if !ok {
			return nil, nil, invalid(param, "No pending approval request found with id '"+it.ApprovalRequestID+"'.")
		}
		if answered[it.ApprovalRequestID] {
			return nil, nil, invalid(param, "Approval request '"+it.ApprovalRequestID+"' is answered twice.")
		}
		answered[it.ApprovalRequestID] = true
		a := &list[k]
		a.approve = it.Approve != nil && *it.Approve
		a.reason = ""
		if it.Reason != nil {
			a.reason = *it.Reason
		}
	}
	if len(list) == 0 {
		return nil, nil, nil
	}
	waiting := make(map[string]bool, len(list))
	for _, a := range list {
		waiting[a.call.CallID] = true
	}
	return list, waiting, nil
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
