package runtime

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
)

// invalid is a 400 in OpenAI's words.
func invalid(param, msg string) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalid, Param: param, Message: msg}
}

// notFound is a 404 for a stored object; it reads the same whether the id
// is unknown or another principal's.
func notFound(param, msg string) *llm.Error {
	return &llm.Error{Kind: llm.KindNotFound, Param: param, Message: msg, Code: "not_found"}
}

func str(s string) *string { return &s }

// textOf returns the text of a string-or-parts content (or function call
// output).
func textOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []wire.Part
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		switch {
		case p.Text != nil:
			b.WriteString(*p.Text)
		case p.Refusal != nil:
			b.WriteString(*p.Refusal)
		}
	}
	return b.String()
}

// Normalize gives an input item the shape it is stored and listed in: an
// id, a status, and message content as parts.
func Normalize(it wire.Item) wire.Item {
	switch it.Type {
	case "message":
		if it.ID == "" {
			it.ID = identity.NewID("msg_")
		}
		var s string
		if json.Unmarshal(it.Content, &s) == nil {
			typ := "input_text"
			p := wire.Part{Type: typ, Text: &s}
			if it.Role == "assistant" {
				p.Type = "output_text"
				p.Annotations = json.RawMessage("[]")
			}
			it.Content, _ = json.Marshal([]wire.Part{p})
		}
	case "function_call":
		if it.ID == "" {
			it.ID = identity.NewID("fc_")
		}
		if it.Arguments == nil {
			it.Arguments = str("")
		}
	case "function_call_output":
		if it.ID == "" {
			it.ID = identity.NewID("fco_")
		}
	case "mcp_approval_response":
		if it.ID == "" {
			it.ID = identity.NewID("mcpa_")
		}
	case "compaction":
		if it.ID == "" {
			it.ID = identity.NewID("cmp_")
		}
		return it // a compaction item has no status
	}
	if it.Status == "" {
		it.Status = "completed"
	}
	return it
}

// checkToolPairs enforces OpenAI's pairing of calls and outputs over the
// whole context: every output answers an earlier call, every call has an
// output — except the calls in waiting, which wait for an approval this
// request gives.
func checkToolPairs(items []wire.Item, waiting map[string]bool) error {
	calls := map[string]bool{}
	var order []string
	for _, it := range items {
		switch it.Type {
		case "function_call":
			if _, seen := calls[it.CallID]; !seen {
				calls[it.CallID] = false
				order = append(order, it.CallID)
			}
		case "function_call_output":
			if _, seen := calls[it.CallID]; !seen {
				return invalid("input", "No tool call found for function call output with call_id "+it.CallID+".")
			}
			calls[it.CallID] = true
		}
	}
	for _, id := range order {
		if !calls[id] && !waiting[id] {
			return invalid("input", "No tool output found for function call "+id+".")
		}
	}
	return nil
}

// pairOutputs returns the items with every function_call_output moved to
// just after the run of function calls it answers, where the providers
// want a tool's result. An approved call's output comes a turn after its
// call, with the approval (and maybe a user message) in between.
func pairOutputs(items []wire.Item) []wire.Item {
	outAt := map[string]int{}
	for i, it := range items {
		if _, seen := outAt[it.CallID]; it.Type == "function_call_output" && !seen {
			outAt[it.CallID] = i
		}
	}
	moved := map[int]bool{}
	out := make([]wire.Item, 0, len(items))
	for i, it := range items {
		if moved[i] {
			continue
		}
		out = append(out, it)
		if it.Type != "function_call" || (i+1 < len(items) && items[i+1].Type == "function_call") {
			continue
		}
		// items[start..i] is a run of calls; the outputs right after it
		// stay, those further on are brought up.
		start := i
		for start > 0 && items[start-1].Type == "function_call" {
			start--
		}
		next := i + 1
		for next < len(items) && items[next].Type == "function_call_output" {
			next++
		}
		for c := start; c <= i; c++ {
			if k, ok := outAt[items[c].CallID]; ok && k >= next && !moved[k] {
				moved[k] = true
				out = append(out, items[k])
			}
		}
	}
	return out
}

// ToMessages converts items, oldest first, to canonical messages.
// Consecutive function calls become one assistant message's tool calls.
func ToMessages(items []wire.Item) ([]llm.Message, error) {
	items = pairOutputs(items)
	msgs := make([]llm.Message, 0, len(items))
	names := map[string]string{}
	prevCall := false
	// thinking is reasoning waiting for the assistant turn it precedes.
	var thinking []llm.Part
	for i, it := range items {
		isCall := false
		switch it.Type {
		case "message":
			m, err := message(it)
			if err != nil {
				return nil, err
			}
			if m.Role == llm.RoleAssistant && len(thinking) > 0 {
				m.Content = append(thinking, m.Content...)
			}
			thinking = nil
			msgs = append(msgs, m)
		case "function_call":
			isCall = true
			args := ""
			if it.Arguments != nil {
				args = *it.Arguments
			}
			names[it.CallID] = it.Name
			tc := llm.ToolCall{ID: it.CallID, Name: it.Name, Arguments: args}
			if n := len(msgs); n > 0 && msgs[n-1].Role == llm.RoleAssistant && (prevCall || len(msgs[n-1].ToolCalls) == 0) {
				msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, tc)
				if len(thinking) > 0 {
					msgs[n-1].Content = append(thinking, msgs[n-1].Content...)
				}
			} else {
				msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: thinking, ToolCalls: []llm.ToolCall{tc}})
			}
			thinking = nil
		case "function_call_output":
			m := llm.TextMessage(llm.RoleTool, textOf(it.Output))
			m.ToolCallID, m.ToolName = it.CallID, names[it.CallID]
			msgs = append(msgs, m)
			thinking = nil
		case "compaction":
			// The summary of the turns it replaced; the turns it kept
			// follow it in the context (fromLatestCompaction).
			c, err := decodeCompaction(it)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, llm.TextMessage(llm.RoleSystem, CompactionMarker+c.Summary))
		case "reasoning":
			// Replayed as thinking bound to the family that made it; a
			// provider of another family leaves it out (llm.Part.Origin).
			thinking = append(thinking, reasoningParts(&items[i])...)
		case "mcp_approval_request", "mcp_approval_response":
			// Between the client and the runtime: the call and its output
			// are what the model sees.
		default:
			return nil, invalid("input["+itoa(i)+"].type", "Item type '"+it.Type+"' is not supported yet by this gateway.")
		}
		prevCall = isCall
	}
	return msgs, nil
}

func message(it wire.Item) (llm.Message, error) {
	var role llm.Role
	switch it.Role {
	case "user":
		role = llm.RoleUser
	case "assistant":
		role = llm.RoleAssistant
	case "system":
		role = llm.RoleSystem
	case "developer":
		role = llm.RoleDeveloper
	default:
		return llm.Message{}, invalid("input", "Invalid value: '"+it.Role+"'. Supported values are: 'user', 'assistant', 'system', and 'developer'.")
	}
	var s string
	if json.Unmarshal(it.Content, &s) == nil {
		return llm.TextMessage(role, s), nil
	}
	var parts []wire.Part
	if err := json.Unmarshal(it.Content, &parts); err != nil {
		return llm.Message{}, invalid("input", "Invalid 'content': expected a string or an array of content parts.")
	}
	m := llm.Message{Role: role}
	for _, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			if p.Text != nil {
				m.Content = append(m.Content, llm.Part{Type: llm.PartText, Text: *p.Text})
			}
		case "refusal":
			if p.Refusal != nil {
				m.Refusal += *p.Refusal
			}
		case "input_image":
			m.Content = append(m.Content, llm.Part{Type: llm.PartImage, ImageURL: p.ImageURL, FileID: p.FileID, Detail: p.Detail})
		default:
			return llm.Message{}, invalid("input", "Content part type '"+p.Type+"' is not supported yet by this gateway.")
		}
	}
	return m, nil
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// foreignReasoning counts the reasoning items of the context that a
// provider of family may not be sent (made by another family): its codec
// leaves them out.
func foreignReasoning(items []wire.Item, family string) int {
	n := 0
	for i := range items {
		if items[i].Type != "reasoning" {
			continue
		}
		if f := reasoningOf(&items[i]).Family; f != "" && f != family {
			n++
		}
	}
	return n
}

func reasoningOf(it *wire.Item) reasoningInfo {
	var ri reasoningInfo
	_ = json.Unmarshal(it.Causeway, &ri)
	if ri.Family == "" && it.EncryptedContent != "" {
		ri, _ = decodeReasoning(it.EncryptedContent)
	}
	return ri
}

// encode is a reasoning item's encrypted_content: Causeway's reasoning
// data, opaque to the client. (It is not encrypted: it holds nothing the
// client may not see.)
func (ri reasoningInfo) encode() string {
	b, _ := json.Marshal(struct {
		V int `json:"causeway_reasoning"`
		reasoningInfo
	}{1, ri})
	return base64.StdEncoding.EncodeToString(b)
}

// decodeReasoning reads encode's output; another's encrypted_content
// (OpenAI's, say) is not Causeway's and reads as nothing.
func decodeReasoning(s string) (reasoningInfo, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return reasoningInfo{}, false
	}
	var v struct {
		V int `json:"causeway_reasoning"`
		reasoningInfo
	}
	if json.Unmarshal(b, &v) != nil || v.V != 1 {
		return reasoningInfo{}, false
	}
	return v.reasoningInfo, true
}

// reasoningParts are the canonical thinking parts of a reasoning item,
// bound to the family that made it.
func reasoningParts(it *wire.Item) []llm.Part {
	ri := reasoningOf(it)
	var parts []llm.Part
	var sum []wire.Part
	_ = json.Unmarshal(it.Summary, &sum)
	var text strings.Builder
	for _, p := range sum {
		if p.Text != nil {
			text.WriteString(*p.Text)
		}
	}
	if text.Len() > 0 || ri.Signature != "" {
		parts = append(parts, llm.Part{Type: llm.PartThinking, Text: text.String(), Signature: ri.Signature, Origin: ri.Family})
	}
	if ri.Redacted != "" {
		parts = append(parts, llm.Part{Type: llm.PartRedactedThinking, Data: ri.Redacted, Origin: ri.Family})
	}
	return parts
}
