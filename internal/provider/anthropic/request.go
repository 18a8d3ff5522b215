package anthropic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/anthropic"
)

// JSONToolName is the tool forced to carry a response_format answer.
const JSONToolName = "json_output"

// Thinking budgets for reasoning_effort.
const (
	budgetLow     = 1024
	budgetMedium  = 4096
	budgetHigh    = 16384
	budgetDefault = budgetMedium
)

// DefaultMaxTokens is the max_tokens sent when the request has none: 4096
// for the Claude 3 (3.0) models, whose output limit it is, and 8192 for
// every later model.
func DefaultMaxTokens(model string) int {
	for _, p := range []string{"claude-3-opus", "claude-3-sonnet", "claude-3-haiku", "claude-instant", "claude-2"} {
		if strings.HasPrefix(model, p) {
			return 4096
		}
	}
	return 8192
}

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

func invalid(param, msg string) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalid, Param: param, Message: msg}
}

// EncodeRequest builds the upstream Messages body for req.
func EncodeRequest(req *llm.Request) ([]byte, error) {
	b, _, err := encode(req)
	return b, err
}

// encode builds the body and reports whether response_format is carried
// by the forced json_output tool.
func encode(req *llm.Request) ([]byte, bool, error) {
	if req.N > 1 {
		return nil, false, invalid("n", "n > 1 is not supported by anthropic: it returns one choice per request")
	}
	w := wire.MessagesRequest{
		Model:         req.UpstreamModel,
		Stream:        req.Stream,
		Temperature:   req.Temperature,
		TopP:          req.TopP,
		TopK:          req.TopK,
		StopSequences: req.Stop,
	}
	if req.User != "" {
		w.Metadata = &wire.Metadata{UserID: req.User}
	}

	// Thinking.
	budget := 0
	switch {
	case req.Thinking != nil && req.Thinking.Enabled:
		budget = req.Thinking.BudgetTokens
		if budget <= 0 {
			budget = budgetDefault
		}
	case req.ReasoningEffort != "":
		switch req.ReasoningEffort {
		case "minimal", "low":
			budget = budgetLow
		case "medium":
			budget = budgetMedium
		case "high":
			budget = budgetHigh
		case "none":
		default:
			return nil, false, invalid("reasoning_effort", "reasoning_effort "+strconv.Quote(req.ReasoningEffort)+" is not supported by anthropic: use low, medium or high")
		}
	}
	if budget > 0 && req.MaxTokens > 0 && budget >= req.MaxTokens {
		// The client's cap includes reasoning (as OpenAI's
		// max_completion_tokens does): give half of it to thinking, within
		// Anthropic's minimum budget.
		budget = max(req.MaxTokens/2, budgetLow)
		if budget >= req.MaxTokens {
			return nil, false, invalid("max_tokens", "max_tokens must be above "+strconv.Itoa(budgetLow)+" with reasoning on anthropic: its smallest thinking budget is "+strconv.Itoa(budgetLow)+" tokens")
		}
	}
	if budget > 0 {
		w.Thinking = &wire.Thinking{Type: "enabled", BudgetTokens: budget}
	}
	w.MaxTokens = req.MaxTokens
	if w.MaxTokens <= 0 {
		w.MaxTokens = DefaultMaxTokens(req.UpstreamModel) + budget
	}

	// Messages.
	var system []wire.ContentBlock
	type turn struct {
		role   string
		blocks []wire.ContentBlock
	}
	var turns []turn
	add := func(role string, blocks []wire.ContentBlock) {
		if len(blocks) == 0 {
			return
		}
		if n := len(turns); n > 0 && turns[n-1].role == role {
			turns[n-1].blocks = append(turns[n-1].blocks, blocks...)
			return
		}
		turns = append(turns, turn{role: role, blocks: blocks})
	}
	for i := range req.Messages {
		m := &req.Messages[i]
		at := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper:
			for _, p := range m.Content {
				if p.Type != llm.PartText {
					return nil, false, invalid(at+".content", "anthropic accepts only text in system messages")
				}
				if p.Text == "" {
					continue
				}
				system = append(system, textBlock(p.Text, p.CacheControl))
			}
		case llm.RoleUser:
			blocks, err := userBlocks(m.Content, at)
			if err != nil {
				return nil, false, err
			}
			add("user", blocks)
		case llm.RoleTool:
			b, err := toolResult(m, at)
			if err != nil {
				return nil, false, err
			}
			add("user", []wire.ContentBlock{b})
		case llm.RoleAssistant:
			blocks, err := assistantBlocks(m, at)
			if err != nil {
				return nil, false, err
			}
			add("assistant", blocks)
		default:
			return nil, false, invalid(at+".role", "role "+strconv.Quote(string(m.Role))+" is not supported by anthropic")
		}
	}
	if len(system) > 0 {
		w.System, _ = json.Marshal(system)
	}
	w.Messages = make([]wire.Message, len(turns))
	for i, t := range turns {
		c, err := json.Marshal(t.blocks)
		if err != nil {
			return nil, false, invalid("messages", "could not encode the messages for anthropic")
		}
		w.Messages[i] = wire.Message{Role: t.role, Content: c}
	}

	// Tools.
	for _, t := range req.Tools {
		if t.Name == JSONToolName && req.ResponseFormat != nil {
			return nil, false, invalid("tools", "the tool name "+JSONToolName+" is reserved by the anthropic provider for response_format")
		}
		schema := t.Parameters
		if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
			schema = emptySchema
		}
		w.Tools = append(w.Tools, wire.Tool{Name: t.Name, Description: t.Description, InputSchema: schema, CacheControl: cacheControl(t.CacheControl)})
	}
	if tc := req.ToolChoice; tc != nil && len(req.Tools) > 0 {
		switch tc.Mode {
		case llm.ToolChoiceAuto, "":
			w.ToolChoice = &wire.ToolChoice{Type: "auto"}
		case llm.ToolChoiceRequired:
			w.ToolChoice = &wire.ToolChoice{Type: "any"}
		case llm.ToolChoiceNone:
			w.ToolChoice = &wire.ToolChoice{Type: "none"}
		case llm.ToolChoiceFunction:
			w.ToolChoice = &wire.ToolChoice{Type: "tool", Name: tc.Name}
		default:
			return nil, false, invalid("tool_choice", "tool_choice "+strconv.Quote(string(tc.Mode))+" is not supported by anthropic")
		}
	}

	// response_format through a forced tool.
	jsonMode := false
	if rf := req.ResponseFormat; rf != nil && (rf.Type == llm.FormatJSONObject || rf.Type == llm.FormatJSONSchema) {
		jsonMode = true
		schema := json.RawMessage(`{"type":"object"}`)
		if rf.Type == llm.FormatJSONSchema && len(bytes.TrimSpace(rf.Schema)) > 0 {
			schema = rf.Schema
		}
		desc := rf.Description
		if desc == "" {
			desc = "Respond with a JSON value of this shape."
		}
		if w.Thinking != nil {
			return nil, false, invalid("response_format", "response_format together with thinking is not supported by anthropic: a forced tool cannot be combined with extended thinking")
		}
		w.Tools = append(w.Tools, wire.Tool{Name: JSONToolName, Description: desc, InputSchema: schema})
		switch {
		case len(req.Tools) == 0:
			w.ToolChoice = &wire.ToolChoice{Type: "tool", Name: JSONToolName}
		case w.ToolChoice == nil || w.ToolChoice.Type == "auto" || w.ToolChoice.Type == "any":
			w.ToolChoice = &wire.ToolChoice{Type: "any"}
		default:
			return nil, false, invalid("response_format", "response_format together with tool_choice "+strconv.Quote(string(req.ToolChoice.Mode))+" is not supported by anthropic")
		}
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls && len(w.Tools) > 0 {
		if w.ToolChoice == nil {
			w.ToolChoice = &wire.ToolChoice{Type: "auto"}
		}
		if w.ToolChoice.Type != "none" {
			t := true
			w.ToolChoice.DisableParallelToolUse = &t
		}
	}

	b, err := json.Marshal(&w)
	if err != nil {
		return nil, false, invalid("", "could not encode the request for anthropic")
	}
	if len(req.Extra) > 0 && req.ExtraFamily == Kind {
		b = appendExtra(b, req.Extra)
	}
	return b, jsonMode, nil
}

func cacheControl(c *llm.CacheControl) *wire.CacheControl {
	if c == nil {
		return nil
	}
	t := c.Type
	if t == "" {
		t = "ephemeral"
	}
	return &wire.CacheControl{Type: t, TTL: c.TTL}
}

func textBlock(s string, cc *llm.CacheControl) wire.ContentBlock {
	return wire.ContentBlock{Type: "text", Text: &s, CacheControl: cacheControl(cc)}
}

// userBlocks converts a user message's parts.
func userBlocks(parts []llm.Part, at string) ([]wire.ContentBlock, error) {
	out := make([]wire.ContentBlock, 0, len(parts))
	for j, p := range parts {
		pat := at + ".content[" + strconv.Itoa(j) + "]"
		switch p.Type {
		case llm.PartText:
			if p.Text == "" {
				continue // Anthropic rejects empty text blocks
			}
			out = append(out, textBlock(p.Text, p.CacheControl))
		case llm.PartImage:
			src, err := imageSource(&p, pat)
			if err != nil {
				return nil, err
			}
			out = append(out, wire.ContentBlock{Type: "image", Source: src, CacheControl: cacheControl(p.CacheControl)})
		case llm.PartFile:
			b, err := documentBlock(&p, pat)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		case llm.PartAudio:
			return nil, invalid(pat, "audio input is not supported by anthropic")
		default:
			return nil, invalid(pat, "content part type "+strconv.Quote(string(p.Type))+" is not supported by anthropic in user messages")
		}
	}
	return out, nil
}

func imageSource(p *llm.Part, at string) (*wire.Source, error) {
	switch u := p.ImageURL; {
	case u == "" && p.Data != "":
		mt := p.MediaType
		if mt == "" {
			mt = "image/png"
		}
		if err := checkImageSize(at, p.Data); err != nil {
			return nil, err
		}
		return &wire.Source{Type: "base64", MediaType: mt, Data: p.Data}, nil
	case strings.HasPrefix(u, "data:"):
		meta, data, ok := strings.Cut(u[len("data:"):], ",")
		mt, isB64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isB64 || mt == "" {
			return nil, invalid(at, "anthropic accepts only base64 data: URLs with a media type for images")
		}
		if err := checkImageSize(at, data); err != nil {
			return nil, err
		}
		return &wire.Source{Type: "base64", MediaType: mt, Data: data}, nil
	case strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://"):
		return &wire.Source{Type: "url", URL: u}, nil
	}
	return nil, invalid(at, "anthropic accepts images as data: URLs or http(s) URLs")
}

func documentBlock(p *llm.Part, at string) (wire.ContentBlock, error) {
	if p.FileID != "" {
		return wire.ContentBlock{}, invalid(at, "file_id references are not supported by anthropic: send the file inline")
	}
	data, mt := p.Data, p.MediaType
	if strings.HasPrefix(data, "data:") {
		meta, d, ok := strings.Cut(data[len("data:"):], ",")
		m, isB64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isB64 {
			return wire.ContentBlock{}, invalid(at, "anthropic accepts files only as base64 data")
		}
		data, mt = d, m
	}
	if mt == "" {
		switch f := strings.ToLower(p.Format); {
		case f == "pdf" || f == "application/pdf" || strings.HasSuffix(strings.ToLower(p.Filename), ".pdf"):
			mt = "application/pdf"
		case f == "txt" || f == "text/plain" || strings.HasSuffix(strings.ToLower(p.Filename), ".txt"):
			mt = "text/plain"
		}
	}
	b := wire.ContentBlock{Type: "document", Title: p.Filename, CacheControl: cacheControl(p.CacheControl)}
	switch mt {
	case "application/pdf":
		b.Source = &wire.Source{Type: "base64", MediaType: mt, Data: data}
	case "text/plain":
		// Anthropic's text source carries the text itself.
		b.Source = &wire.Source{Type: "text", MediaType: mt, Data: data}
	default:
		return wire.ContentBlock{}, invalid(at, "anthropic accepts only PDF and plain-text files as documents")
	}
	return b, nil
}

// toolResult converts a tool message.
func toolResult(m *llm.Message, at string) (wire.ContentBlock, error) {
	b := wire.ContentBlock{Type: "tool_result", ToolUseID: m.ToolCallID}
	if m.ToolCallID == "" {
		return b, invalid(at+".tool_call_id", "anthropic needs the tool_call_id of every tool result")
	}
	if m.IsError {
		t := true
		b.IsError = &t
	}
	allText := true
	var cc *llm.CacheControl
	for _, p := range m.Content {
		if p.Type != llm.PartText {
			allText = false
		}
		if p.CacheControl != nil {
			cc = p.CacheControl
		}
	}
	if allText {
		b.Content, _ = json.Marshal(m.Text())
		b.CacheControl = cacheControl(cc)
		return b, nil
	}
	blocks, err := userBlocks(m.Content, at)
	if err != nil {
		return b, err
	}
	b.Content, _ = json.Marshal(blocks)
	return b, nil
}

// assistantBlocks converts an assistant message: thinking, text, then tool
// calls.
func assistantBlocks(m *llm.Message, at string) ([]wire.ContentBlock, error) {
	out := make([]wire.ContentBlock, 0, len(m.Content)+len(m.ToolCalls))
	for j, p := range m.Content {
		switch p.Type {
		case llm.PartThinking:
			if p.Signature == "" || (p.Origin != "" && p.Origin != Kind) {
				continue // unsigned, or another family's, reasoning cannot be replayed to Anthropic
			}
			t, s := p.Text, p.Signature
			out = append(out, wire.ContentBlock{Type: "thinking", Thinking: &t, Signature: &s})
		case llm.PartRedactedThinking:
			if p.Origin != "" && p.Origin != Kind {
				continue
			}
			out = append(out, wire.ContentBlock{Type: "redacted_thinking", Data: p.Data})
		case llm.PartText:
			if p.Text != "" {
				out = append(out, textBlock(p.Text, p.CacheControl))
			}
		default:
			return nil, invalid(at+".content["+strconv.Itoa(j)+"]", "content part type "+strconv.Quote(string(p.Type))+" is not supported by anthropic in assistant messages")
		}
	}
	if m.Refusal != "" {
		out = append(out, textBlock(m.Refusal, nil))
	}
	for j, tc := range m.ToolCalls {
		args := bytes.TrimSpace([]byte(tc.Arguments))
		if len(args) == 0 {
			args = []byte("{}")
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(args, &obj); err != nil || obj == nil {
			return nil, invalid(at+".tool_calls["+strconv.Itoa(j)+"].function.arguments",
				"the arguments of tool call "+strconv.Quote(tc.ID)+" are not a JSON object, which anthropic requires")
		}
		var c bytes.Buffer
		if err := json.Compact(&c, args); err != nil {
			return nil, invalid(at+".tool_calls["+strconv.Itoa(j)+"].function.arguments", "the tool call arguments are not valid JSON")
		}
		out = append(out, wire.ContentBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: c.Bytes()})
	}
	return out, nil
}

// appendExtra splices pass-through fields into a marshalled object, in a
// stable order; a field the codec already wrote is replaced.
func appendExtra(obj []byte, extra map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) == nil {
		dup := false
		for _, k := range keys {
			if _, ok := m[k]; ok {
				dup = true
			}
		}
		if dup {
			for _, k := range keys {
				m[k] = extra[k]
			}
			b, err := json.Marshal(m)
			if err == nil {
				return b
			}
		}
	}
	out := bytes.TrimSuffix(obj, []byte("}")) // only the object's own brace
	out = out[:len(out):len(out)]
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		out = append(out, ',')
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, extra[k]...)
	}
	return append(out, '}')
}

// maxImageBytes is Anthropic's limit on one image (5 MB decoded).
const maxImageBytes = 5 << 20

// checkImageSize refuses an inline image larger than Anthropic accepts,
// before it travels upstream only to be refused there.
func checkImageSize(at, b64 string) error {
	if n := base64.StdEncoding.DecodedLen(len(b64)); n > maxImageBytes+2 {
		e := invalid(at, fmt.Sprintf("the image is about %.1f MB; anthropic accepts images of at most 5 MB", float64(n)/(1<<20)))
		e.Code = "image_too_large"
		return e
	}
	return nil
}
