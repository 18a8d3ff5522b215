// Package anthropic is the Anthropic Messages front door: it decodes
// POST /v1/messages (and /v1/messages/count_tokens) into the canonical
// model, hands it to the gateway, and encodes canonical events back into
// Anthropic's wire format, streamed as named SSE events or whole, with
// Anthropic's error shape. With it the Anthropic SDKs and Claude Code work
// through Causeway against any provider.
//
// It must never import a provider: doors and providers meet only in llm,
// through the gateway. Fields and headers only an Anthropic upstream
// understands travel in Request.Extra and Request.ExtraHeaders with
// ExtraFamily "anthropic", so that no other provider ever sees them.
package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/anthropic"
)

// Family is the ExtraFamily of fields and headers this door passes
// through.
const Family = "anthropic"

// knownFields are the top-level fields the door translates; any other is
// carried in Request.Extra for an Anthropic provider.
var knownFields = map[string]bool{
	"model": true, "max_tokens": true, "messages": true, "system": true,
	"metadata": true, "stop_sequences": true, "stream": true,
	"temperature": true, "top_k": true, "top_p": true, "tools": true,
	"tool_choice": true, "thinking": true,
}

func invalid(param, format string, args ...any) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalid, Param: param, Message: fmt.Sprintf(format, args...)}
}

// DecodeMessagesRequest decodes and validates a Messages body as the
// Anthropic API does.
func DecodeMessagesRequest(body []byte) (*llm.Request, error) {
	return decode(body, false)
}

// ExtraHeaders returns the anthropic-* request headers (anthropic-beta
// above all) to forward to an Anthropic provider. anthropic-version is
// left out: each provider speaks the version its codec was written for.
func ExtraHeaders(h http.Header) map[string]string {
	var out map[string]string
	for k, vs := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "anthropic-") || lk == "anthropic-version" || len(vs) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[lk] = strings.Join(vs, ",")
	}
	return out
}

func decode(body []byte, countOnly bool) (*llm.Request, error) {
	if !gjson.ValidBytes(body) {
		return nil, invalid("", "There was an error parsing the body of your request: it is not valid JSON.")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, invalid("", "The request body must be a JSON object.")
	}
	var w wire.MessagesRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, typeError(err)
	}
	var extra map[string]json.RawMessage
	if !countOnly {
		root.ForEach(func(k, v gjson.Result) bool {
			if !knownFields[k.Str] {
				if extra == nil {
					extra = make(map[string]json.RawMessage)
				}
				extra[k.Str] = json.RawMessage(v.Raw)
			}
			return true
		})
	}
	if !root.Get("model").Exists() || w.Model == "" {
		return nil, invalid("model", "model: Field required")
	}
	if !countOnly {
		if !root.Get("max_tokens").Exists() {
			return nil, invalid("max_tokens", "max_tokens: Field required")
		}
		if w.MaxTokens < 1 {
			return nil, invalid("max_tokens", "max_tokens: Input should be greater than or equal to 1")
		}
	}
	if !root.Get("messages").Exists() {
		return nil, invalid("messages", "messages: Field required")
	}
	if len(w.Messages) == 0 {
		return nil, invalid("messages", "messages: at least one message is required")
	}
	req := &llm.Request{
		Model:       w.Model,
		Stream:      w.Stream,
		MaxTokens:   w.MaxTokens,
		Temperature: w.Temperature,
		TopP:        w.TopP,
		TopK:        w.TopK,
		Stop:        w.StopSequences,
		Extra:       extra,
	}
	if extra != nil {
		req.ExtraFamily = Family
	}
	if w.Temperature != nil && (*w.Temperature < 0 || *w.Temperature > 1) {
		return nil, invalid("temperature", "temperature: Input should be between 0 and 1, got %v", *w.Temperature)
	}
	if w.TopP != nil && (*w.TopP < 0 || *w.TopP > 1) {
		return nil, invalid("top_p", "top_p: Input should be between 0 and 1, got %v", *w.TopP)
	}
	if w.TopK != nil && *w.TopK < 0 {
		return nil, invalid("top_k", "top_k: Input should be greater than or equal to 0")
	}
	for i, s := range w.StopSequences {
		if s == "" {
			return nil, invalid("stop_sequences", "stop_sequences.%d: each stop sequence must contain non-whitespace characters", i)
		}
	}
	if w.Metadata != nil {
		req.User = w.Metadata.UserID
	}
	if !isNull(w.System) {
		sys, err := decodeSystem(w.System)
		if err != nil {
			return nil, err
		}
		req.Messages = append(req.Messages, sys)
	}
	// toolNames maps every tool_use id seen so far to its tool, so that a
	// tool_result can name the function it answers (Gemini needs it).
	toolNames := map[string]string{}
	for i := range w.Messages {
		var err error
		req.Messages, err = decodeMessage(req.Messages, &w.Messages[i], i, i == len(w.Messages)-1, toolNames)
		if err != nil {
			return nil, err
		}
	}
	if n := len(req.Messages); n == 0 || req.Messages[n-1].Role == llm.RoleSystem {
		return nil, invalid("messages", "messages: at least one non-empty message is required")
	}
	if len(w.Tools) > 0 {
		req.Tools = make([]llm.Tool, len(w.Tools))
		tools := root.Get("tools").Array()
		for i, t := range w.Tools {
			p := fmt.Sprintf("tools.%d", i)
			switch t.Type {
			case "", "custom":
			default:
				return nil, invalid(p+".type", "%s.type: the server tool '%s' is not supported through Causeway: it runs on Anthropic's servers and cannot be executed by other providers; define a custom tool with an input_schema instead", p, t.Type)
			}
			if t.Name == "" {
				return nil, invalid(p+".name", "%s.name: Field required", p)
			}
			if isNull(t.InputSchema) {
				return nil, invalid(p+".input_schema", "%s.input_schema: Field required", p)
			}
			if bytes.TrimSpace(t.InputSchema)[0] != '{' {
				return nil, invalid(p+".input_schema", "%s.input_schema: Input should be an object", p)
			}
			req.Tools[i] = llm.Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema, CacheControl: cacheControl(t.CacheControl)}
			if i < len(tools) {
				if s := tools[i].Get("strict"); s.Exists() {
					if s.Type != gjson.True && s.Type != gjson.False {
						return nil, invalid(p+".strict", "%s.strict: Input should be a valid boolean", p)
					}
					b := s.Bool()
					req.Tools[i].Strict = &b
				}
			}
		}
	}
	if tc := w.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto":
			req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceAuto}
		case "any":
			req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceRequired}
		case "none":
			req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceNone}
		case "tool":
			if tc.Name == "" {
				return nil, invalid("tool_choice.name", "tool_choice.name: Field required")
			}
			found := false
			for _, t := range req.Tools {
				found = found || t.Name == tc.Name
			}
			if !found {
				return nil, invalid("tool_choice.name", "tool_choice.name: the tool '%s' is not among the tools given", tc.Name)
			}
			req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: tc.Name}
		case "":
			return nil, invalid("tool_choice.type", "tool_choice.type: Field required")
		default:
			return nil, invalid("tool_choice.type", "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none', got '%s'", tc.Type)
		}
		if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse {
			if tc.Type == "none" {
				return nil, invalid("tool_choice.disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use: not allowed with tool_choice type 'none'")
			}
			f := false
			req.ParallelToolCalls = &f
		}
		if tc.Type != "none" && len(req.Tools) == 0 {
			return nil, invalid("tool_choice", "tool_choice: may only be specified while providing tools")
		}
	}
	if th := w.Thinking; th != nil {
		switch th.Type {
		case "enabled":
			if th.BudgetTokens < 1024 {
				return nil, invalid("thinking.budget_tokens", "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
			}
			if !countOnly && th.BudgetTokens >= w.MaxTokens {
				return nil, invalid("max_tokens", "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
			}
			req.Thinking = &llm.Thinking{Enabled: true, BudgetTokens: th.BudgetTokens}
		case "adaptive":
			// The model decides how much to think: no budget.
			req.Thinking = &llm.Thinking{Enabled: true}
		case "disabled":
		case "":
			return nil, invalid("thinking.type", "thinking.type: Field required")
		default:
			return nil, invalid("thinking.type", "thinking.type: Input should be 'enabled', 'adaptive' or 'disabled', got '%s'", th.Type)
		}
	}
	return req, nil
}

func typeError(err error) *llm.Error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return invalid(field, "%s: Input should be %s, got a JSON %s", field, typeName(te.Type.String()), te.Value)
	}
	return invalid("", "There was an error parsing the body of your request: %v", err)
}

func typeName(t string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case strings.Contains(t, "int"):
		return "a valid integer"
	case strings.Contains(t, "float"):
		return "a valid number"
	case t == "string":
		return "a valid string"
	case t == "bool":
		return "a valid boolean"
	case strings.HasPrefix(t, "[]"):
		return "a valid list"
	}
	return "a valid dictionary"
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

func cacheControl(c *wire.CacheControl) *llm.CacheControl {
	if c == nil {
		return nil
	}
	return &llm.CacheControl{Type: c.Type, TTL: c.TTL}
}

// stringOrBlocks decodes a content value: a string or an array of blocks.
func stringOrBlocks(raw json.RawMessage, param string) (s string, blocks []wire.ContentBlock, isString bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 {
		switch raw[0] {
		case '"':
			if json.Unmarshal(raw, &s) == nil {
				return s, nil, true, nil
			}
		case '[':
			if e := json.Unmarshal(raw, &blocks); e == nil {
				return "", blocks, false, nil
			} else if te, ok := errors.AsType[*json.UnmarshalTypeError](e); ok {
				return "", nil, false, invalid(param, "%s: %s should be %s, got a JSON %s", param, te.Field, typeName(te.Type.String()), te.Value)
			}
		}
	}
	return "", nil, false, invalid(param, "%s: Input should be a valid string or a list of content blocks", param)
}

func decodeSystem(raw json.RawMessage) (llm.Message, error) {
	s, blocks, isString, err := stringOrBlocks(raw, "system")
	if err != nil {
		return llm.Message{}, err
	}
	if isString {
		return llm.TextMessage(llm.RoleSystem, s), nil
	}
	m := llm.Message{Role: llm.RoleSystem, Content: make([]llm.Part, 0, len(blocks))}
	for i, b := range blocks {
		if b.Type != "text" {
			return llm.Message{}, invalid("system", "system.%d.type: Input should be 'text', got '%s'", i, b.Type)
		}
		if b.Text == nil {
			return llm.Message{}, invalid("system", "system.%d.text: Field required", i)
		}
		m.Content = append(m.Content, llm.Part{Type: llm.PartText, Text: *b.Text, CacheControl: cacheControl(b.CacheControl)})
	}
	return m, nil
}

// decodeMessage appends the canonical messages of one Anthropic message
// to out: a user message's tool_result blocks become tool messages, in
// order, between the user parts around them.
func decodeMessage(out []llm.Message, m *wire.Message, i int, last bool, toolNames map[string]string) ([]llm.Message, error) {
	param := fmt.Sprintf("messages.%d", i)
	var role llm.Role
	switch m.Role {
	case "user":
		role = llm.RoleUser
	case "assistant":
		role = llm.RoleAssistant
	case "system":
		return nil, invalid(param+".role", "%s.role: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role.", param)
	case "":
		return nil, invalid(param+".role", "%s.role: Field required", param)
	default:
		return nil, invalid(param+".role", "%s.role: Input should be 'user' or 'assistant', got '%s'", param, m.Role)
	}
	if isNull(m.Content) {
		return nil, invalid(param+".content", "%s.content: Field required", param)
	}
	s, blocks, isString, err := stringOrBlocks(m.Content, param+".content")
	if err != nil {
		return nil, err
	}
	if isString {
		return append(out, llm.TextMessage(role, s)), nil
	}
	if len(blocks) == 0 {
		if last && role == llm.RoleAssistant {
			return out, nil // an empty prefill asks for nothing
		}
		return nil, invalid(param+".content", "%s.content: all messages must have non-empty content except for the optional final assistant message", param)
	}
	cur := llm.Message{Role: role}
	flush := func() {
		if len(cur.Content) > 0 || len(cur.ToolCalls) > 0 {
			out = append(out, cur)
		}
		cur = llm.Message{Role: role}
	}
	for j := range blocks {
		b := &blocks[j]
		bp := fmt.Sprintf("%s.content.%d", param, j)
		cc := cacheControl(b.CacheControl)
		switch b.Type {
		case "text":
			if b.Text == nil {
				return nil, invalid(bp+".text", "%s.text: Field required", bp)
			}
			cur.Content = append(cur.Content, llm.Part{Type: llm.PartText, Text: *b.Text, CacheControl: cc})
		case "image":
			p, err := decodeImage(b, bp)
			if err != nil {
				return nil, err
			}
			cur.Content = append(cur.Content, p)
		case "document":
			p, err := decodeDocument(b, bp)
			if err != nil {
				return nil, err
			}
			cur.Content = append(cur.Content, p)
		case "tool_use":
			if role != llm.RoleAssistant {
				return nil, invalid(bp+".type", "%s: tool_use blocks are only allowed in assistant messages", bp)
			}
			if b.ID == "" || b.Name == "" {
				return nil, invalid(bp, "%s: tool_use blocks need an 'id' and a 'name'", bp)
			}
			args := "{}"
			if !isNull(b.Input) {
				in := bytes.TrimSpace(b.Input)
				if in[0] != '{' {
					return nil, invalid(bp+".input", "%s.input: Input should be a valid dictionary", bp)
				}
				args = string(in)
			}
			toolNames[b.ID] = b.Name
			cur.ToolCalls = append(cur.ToolCalls, llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: args})
			if cc != nil && len(cur.Content) > 0 {
				// The canonical model has no breakpoint on a tool call;
				// the nearest part before it carries it.
				cur.Content[len(cur.Content)-1].CacheControl = cc
			}
		case "tool_result":
			if role != llm.RoleUser {
				return nil, invalid(bp+".type", "%s: tool_result blocks are only allowed in user messages", bp)
			}
			name, ok := toolNames[b.ToolUseID]
			if b.ToolUseID == "" || !ok {
				return nil, invalid(bp+".tool_use_id", "%s: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block before it.", bp, b.ToolUseID)
			}
			flush()
			tm := llm.Message{Role: llm.RoleTool, ToolCallID: b.ToolUseID, ToolName: name, IsError: b.IsError != nil && *b.IsError}
			if !isNull(b.Content) {
				s, inner, isString, err := stringOrBlocks(b.Content, bp+".content")
				if err != nil {
					return nil, err
				}
				if isString {
					tm.Content = []llm.Part{{Type: llm.PartText, Text: s}}
					tm.TextOnly = true
				}
				for k := range inner {
					ib := &inner[k]
					ip := fmt.Sprintf("%s.content.%d", bp, k)
					switch ib.Type {
					case "text":
						if ib.Text == nil {
							return nil, invalid(ip+".text", "%s.text: Field required", ip)
						}
						tm.Content = append(tm.Content, llm.Part{Type: llm.PartText, Text: *ib.Text, CacheControl: cacheControl(ib.CacheControl)})
					case "image":
						p, err := decodeImage(ib, ip)
						if err != nil {
							return nil, err
						}
						tm.Content = append(tm.Content, p)
					case "document":
						p, err := decodeDocument(ib, ip)
						if err != nil {
							return nil, err
						}
						tm.Content = append(tm.Content, p)
					default:
						return nil, invalid(ip+".type", "%s.type: Input should be 'text', 'image' or 'document' inside a tool_result, got '%s'", ip, ib.Type)
					}
				}
			}
			if cc != nil && len(tm.Content) > 0 {
				tm.Content[len(tm.Content)-1].CacheControl = cc
			}
			out = append(out, tm)
		case "thinking":
			if role != llm.RoleAssistant {
				return nil, invalid(bp+".type", "%s: thinking blocks are only allowed in assistant messages", bp)
			}
			if b.Thinking == nil {
				return nil, invalid(bp+".thinking", "%s.thinking: Field required", bp)
			}
			p := llm.Part{Type: llm.PartThinking, Text: *b.Thinking, CacheControl: cc}
			if b.Signature != nil {
				p.Signature = *b.Signature
			}
			cur.Content = append(cur.Content, p)
		case "redacted_thinking":
			if role != llm.RoleAssistant {
				return nil, invalid(bp+".type", "%s: redacted_thinking blocks are only allowed in assistant messages", bp)
			}
			if b.Data == "" {
				return nil, invalid(bp+".data", "%s.data: Field required", bp)
			}
			cur.Content = append(cur.Content, llm.Part{Type: llm.PartRedactedThinking, Data: b.Data, CacheControl: cc})
		case "":
			return nil, invalid(bp+".type", "%s.type: Field required", bp)
		default:
			return nil, invalid(bp+".type", "%s.type: the content block type '%s' is not supported through Causeway (supported: text, image, document, tool_use, tool_result, thinking, redacted_thinking)", bp, b.Type)
		}
	}
	flush()
	return out, nil
}

var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func decodeImage(b *wire.ContentBlock, bp string) (llm.Part, error) {
	src := b.Source
	if src == nil {
		return llm.Part{}, invalid(bp+".source", "%s.source: Field required", bp)
	}
	p := llm.Part{Type: llm.PartImage, CacheControl: cacheControl(b.CacheControl)}
	switch src.Type {
	case "base64":
		if !imageTypes[src.MediaType] {
			return llm.Part{}, invalid(bp+".source.media_type", "%s.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", bp)
		}
		if src.Data == "" {
			return llm.Part{}, invalid(bp+".source.data", "%s.source.data: Field required", bp)
		}
		p.ImageURL = "data:" + src.MediaType + ";base64," + src.Data
		p.MediaType = src.MediaType
	case "url":
		if !strings.HasPrefix(src.URL, "https://") && !strings.HasPrefix(src.URL, "http://") {
			return llm.Part{}, invalid(bp+".source.url", "%s.source.url: Input should be an http(s) URL", bp)
		}
		p.ImageURL = src.URL
	default:
		return llm.Part{}, invalid(bp+".source.type", "%s.source.type: image sources of type '%s' are not supported through Causeway (use 'base64' or 'url')", bp, src.Type)
	}
	return p, nil
}

func decodeDocument(b *wire.ContentBlock, bp string) (llm.Part, error) {
	src := b.Source
	if src == nil {
		return llm.Part{}, invalid(bp+".source", "%s.source: Field required", bp)
	}
	cc := cacheControl(b.CacheControl)
	switch src.Type {
	case "base64":
		if src.MediaType != "application/pdf" {
			return llm.Part{}, invalid(bp+".source.media_type", "%s.source.media_type: Input should be 'application/pdf'", bp)
		}
		if src.Data == "" {
			return llm.Part{}, invalid(bp+".source.data", "%s.source.data: Field required", bp)
		}
		return llm.Part{Type: llm.PartFile, Data: src.Data, MediaType: src.MediaType, Filename: b.Title, CacheControl: cc}, nil
	case "text":
		return llm.Part{Type: llm.PartText, Text: src.Data, CacheControl: cc}, nil
	}
	return llm.Part{}, invalid(bp+".source.type", "%s.source.type: document sources of type '%s' are not supported through Causeway (use 'base64' PDF or 'text')", bp, src.Type)
}
