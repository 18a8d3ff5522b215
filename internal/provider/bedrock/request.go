package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/bedrock"
)

// JSONToolName is the tool forced to obtain JSON output (response_format):
// Bedrock has no JSON mode, so the model is made to call this tool and its
// input is returned as the message text, as LiteLLM does.
const JSONToolName = "json_tool_call"

// defaultThinkingBudget is Anthropic's minimum thinking budget, used when
// thinking is enabled without one.
const defaultThinkingBudget = 1024

func invalid(param, format string, args ...any) *llm.Error {
	e := llm.Errorf(llm.KindInvalid, format, args...)
	e.Param = param
	e.Code = "unsupported_parameter"
	return e
}

// EncodeRequest builds the Converse body for req. jsonMode reports that
// the output format is obtained through the forced json_tool_call tool, so
// its answer must be decoded as text.
func EncodeRequest(req *llm.Request) (body []byte, jsonMode bool, err error) {
	var w wire.ConverseRequest
	if req.N > 1 {
		return nil, false, invalid("n", "n > 1 is not supported by the bedrock provider: Bedrock Converse returns one choice")
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls && len(req.Tools) > 0 {
		return nil, false, invalid("parallel_tool_calls", "parallel_tool_calls=false is not supported by the bedrock provider: Converse has no switch for it")
	}
	usedTools := false
	for i := range req.Messages {
		m := &req.Messages[i]
		if m.Role == llm.RoleSystem || m.Role == llm.RoleDeveloper {
			for _, p := range m.Content {
				if p.Type != llm.PartText {
					return nil, false, invalid("messages["+strconv.Itoa(i)+"].content", "the bedrock provider accepts only text in system messages")
				}
				if p.Text != "" {
					t := p.Text
					w.System = append(w.System, wire.SystemContentBlock{Text: &t})
				}
				if cp := cachePoint(p.CacheControl); cp != nil {
					w.System = append(w.System, wire.SystemContentBlock{CachePoint: cp})
				}
			}
			continue
		}
		role, blocks, err := encodeMessage(i, m)
		if err != nil {
			return nil, false, err
		}
		if len(m.ToolCalls) > 0 || m.Role == llm.RoleTool {
			usedTools = true
		}
		if len(blocks) == 0 {
			continue
		}
		// Bedrock wants user and assistant turns to alternate: consecutive
		// turns of one role (several tool results, a tool result followed by
		// a user message) become one.
		if n := len(w.Messages); n > 0 && w.Messages[n-1].Role == role {
			w.Messages[n-1].Content = append(w.Messages[n-1].Content, blocks...)
			continue
		}
		w.Messages = append(w.Messages, wire.Message{Role: role, Content: blocks})
	}
	if w.Messages == nil {
		w.Messages = []wire.Message{}
	}

	var ic wire.InferenceConfiguration
	hasIC := false
	if req.MaxTokens > 0 {
		n := req.MaxTokens
		ic.MaxTokens, hasIC = &n, true
	}
	if req.Temperature != nil {
		ic.Temperature, hasIC = req.Temperature, true
	}
	if req.TopP != nil {
		ic.TopP, hasIC = req.TopP, true
	}
	if len(req.Stop) > 0 {
		ic.StopSequences, hasIC = req.Stop, true
	}
	if hasIC {
		w.InferenceConfig = &ic
	}

	// Model-specific fields Converse has no place for.
	amrf := map[string]any{}
	if req.TopK != nil {
		amrf["top_k"] = *req.TopK
	}
	thinking := req.Thinking
	if req.ReasoningEffort != "" && thinking == nil {
		if !strings.Contains(req.UpstreamModel, "anthropic.") {
			return nil, false, invalid("reasoning_effort", "reasoning_effort is not supported by the bedrock provider for model %s; it is mapped to a thinking budget for Anthropic models only", req.UpstreamModel)
		}
		budget := map[string]int{"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}[req.ReasoningEffort]
		if budget == 0 {
			return nil, false, invalid("reasoning_effort", "reasoning_effort %q is not one of minimal, low, medium, high", req.ReasoningEffort)
		}
		thinking = &llm.Thinking{Enabled: true, BudgetTokens: budget}
	}
	if thinking != nil && thinking.Enabled {
		budget := thinking.BudgetTokens
		if budget <= 0 {
			budget = defaultThinkingBudget
		}
		amrf["thinking"] = map[string]any{"type": "enabled", "budget_tokens": budget}
	}
	if len(amrf) > 0 {
		w.AdditionalModelRequestFields, _ = json.Marshal(amrf)
	}
	if len(req.Metadata) > 0 {
		w.RequestMetadata = req.Metadata
	}

	if rf := req.ResponseFormat; rf != nil && rf.Type != "" && rf.Type != llm.FormatText {
		if len(req.Tools) > 0 {
			return nil, false, invalid("response_format", "response_format together with tools is not supported by the bedrock provider: Bedrock has no JSON mode, and JSON output is obtained by forcing a tool")
		}
		schema := json.RawMessage(`{"type":"object"}`)
		if rf.Type == llm.FormatJSONSchema && len(rf.Schema) > 0 {
			schema = rf.Schema
		}
		desc := "Respond with a JSON object."
		if rf.Description != "" {
			desc = rf.Description
		}
		w.ToolConfig = &wire.ToolConfiguration{
			Tools:      []wire.Tool{{ToolSpec: &wire.ToolSpecification{Name: JSONToolName, Description: desc, InputSchema: wire.ToolInputSchema{JSON: schema}}}},
			ToolChoice: &wire.ToolChoice{Tool: &wire.SpecificToolChoice{Name: JSONToolName}},
		}
		jsonMode = true
	} else if len(req.Tools) > 0 {
		tc := req.ToolChoice
		if tc != nil && tc.Mode == llm.ToolChoiceNone {
			if usedTools {
				return nil, false, invalid("tool_choice", `tool_choice "none" is not supported by the bedrock provider in a conversation that has tool calls: Bedrock has no "none" choice and needs the tools declared`)
			}
		} else {
			cfg := &wire.ToolConfiguration{}
			for _, t := range req.Tools {
				params := t.Parameters
				if len(bytes.TrimSpace(params)) == 0 || bytes.Equal(bytes.TrimSpace(params), []byte("null")) {
					params = json.RawMessage(`{"type":"object","properties":{}}`)
				}
				cfg.Tools = append(cfg.Tools, wire.Tool{ToolSpec: &wire.ToolSpecification{
					Name: t.Name, Description: t.Description, InputSchema: wire.ToolInputSchema{JSON: params}, Strict: t.Strict,
				}})
				if cp := cachePoint(t.CacheControl); cp != nil {
					cfg.Tools = append(cfg.Tools, wire.Tool{CachePoint: cp})
				}
			}
			if tc != nil {
				switch tc.Mode {
				case llm.ToolChoiceAuto:
					cfg.ToolChoice = &wire.ToolChoice{Auto: &struct{}{}}
				case llm.ToolChoiceRequired:
					cfg.ToolChoice = &wire.ToolChoice{Any: &struct{}{}}
				case llm.ToolChoiceFunction:
					cfg.ToolChoice = &wire.ToolChoice{Tool: &wire.SpecificToolChoice{Name: tc.Name}}
				}
			}
			w.ToolConfig = cfg
		}
	}

	b, err := json.Marshal(&w)
	if err != nil {
		return nil, false, &llm.Error{Kind: llm.KindInvalid, Message: "could not encode the request for bedrock", Err: err}
	}
	if len(req.Extra) > 0 && req.ExtraFamily == Kind {
		b = appendExtra(b, req.Extra)
	}
	return b, jsonMode, nil
}

func cachePoint(cc *llm.CacheControl) *wire.CachePointBlock {
	if cc == nil {
		return nil
	}
	return &wire.CachePointBlock{Type: "default", TTL: cc.TTL}
}

// encodeMessage turns a user, assistant or tool message into a role and
// content blocks.
func encodeMessage(i int, m *llm.Message) (string, []wire.ContentBlock, error) {
	at := "messages[" + strconv.Itoa(i) + "]"
	var blocks []wire.ContentBlock
	switch m.Role {
	case llm.RoleTool:
		text := m.Text()
		res := &wire.ToolResultBlock{ToolUseID: m.ToolCallID, Content: []wire.ToolResultContentBlock{{Text: &text}}}
		if m.IsError {
			res.Status = "error"
		}
		for _, p := range m.Content {
			if p.Type != llm.PartText {
				return "", nil, invalid(at+".content", "the bedrock provider accepts only text in tool results")
			}
		}
		blocks = append(blocks, wire.ContentBlock{ToolResult: res})
		return "user", blocks, nil
	case llm.RoleUser, llm.RoleAssistant:
	default:
		return "", nil, invalid(at+".role", "role %q is not supported by the bedrock provider", m.Role)
	}
	for j, p := range m.Content {
		pat := at + ".content[" + strconv.Itoa(j) + "]"
		switch p.Type {
		case llm.PartText:
			if p.Text != "" {
				t := p.Text
				blocks = append(blocks, wire.ContentBlock{Text: &t})
			}
		case llm.PartImage:
			img, err := encodeImage(pat, &p)
			if err != nil {
				return "", nil, err
			}
			blocks = append(blocks, wire.ContentBlock{Image: img})
		case llm.PartThinking:
			if p.Origin != "" && p.Origin != Kind {
				continue // another family's reasoning: Bedrock cannot verify it
			}
			blocks = append(blocks, wire.ContentBlock{ReasoningContent: &wire.ReasoningContentBlock{
				ReasoningText: &wire.ReasoningTextBlock{Text: p.Text, Signature: p.Signature}}})
		case llm.PartRedactedThinking:
			if p.Origin != "" && p.Origin != Kind {
				continue
			}
			data, err := base64.StdEncoding.DecodeString(p.Data)
			if err != nil {
				return "", nil, invalid(pat, "redacted thinking data is not base64")
			}
			blocks = append(blocks, wire.ContentBlock{ReasoningContent: &wire.ReasoningContentBlock{RedactedContent: data}})
		default:
			return "", nil, invalid(pat, "%s parts are not supported by the bedrock provider", p.Type)
		}
		if cp := cachePoint(p.CacheControl); cp != nil {
			blocks = append(blocks, wire.ContentBlock{CachePoint: cp})
		}
	}
	if m.Refusal != "" {
		t := m.Refusal
		blocks = append(blocks, wire.ContentBlock{Text: &t})
	}
	for k, tc := range m.ToolCalls {
		args := bytes.TrimSpace([]byte(tc.Arguments))
		if len(args) == 0 {
			args = []byte("{}")
		}
		if !json.Valid(args) || args[0] != '{' {
			return "", nil, invalid(at+".tool_calls["+strconv.Itoa(k)+"].function.arguments", "tool call arguments must be a JSON object for the bedrock provider")
		}
		blocks = append(blocks, wire.ContentBlock{ToolUse: &wire.ToolUseBlock{ToolUseID: tc.ID, Name: tc.Name, Input: args}})
	}
	return string(m.Role), blocks, nil
}

// imageFormats maps MIME types to Bedrock's image formats.
var imageFormats = map[string]string{
	"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp",
}

// maxImageBytes is Bedrock's per-image limit (3.75 MB).
const maxImageBytes = 3_750_000

func encodeImage(at string, p *llm.Part) (*wire.ImageBlock, error) {
	mediaType, data := p.MediaType, p.Data
	if data == "" {
		u := p.ImageURL
		rest, ok := strings.CutPrefix(u, "data:")
		if !ok {
			return nil, invalid(at, "image URLs are not supported by the bedrock provider: Bedrock takes image bytes, so send the image as a data: URL")
		}
		meta, payload, ok := strings.Cut(rest, ",")
		if !ok || !strings.HasSuffix(meta, ";base64") {
			return nil, invalid(at, "the image data URL must be base64-encoded (data:image/png;base64,...)")
		}
		mediaType, data = strings.TrimSuffix(meta, ";base64"), payload
	}
	format, ok := imageFormats[strings.ToLower(mediaType)]
	if !ok {
		return nil, invalid(at, "image type %q is not supported by the bedrock provider (png, jpeg, gif, webp)", mediaType)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, invalid(at, "the image data is not valid base64")
	}
	if len(raw) > maxImageBytes {
		return nil, invalid(at, "the image is %d bytes; the bedrock provider accepts at most %d", len(raw), maxImageBytes)
	}
	return &wire.ImageBlock{Format: format, Source: wire.ImageSource{Bytes: raw}}, nil
}

// appendExtra splices pass-through fields into a marshalled object, in a
// stable order; a field the encoder also wrote is replaced by the
// client's.
func appendExtra(obj []byte, extra map[string]json.RawMessage) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return obj
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m[k] = extra[k]
	}
	b, err := json.Marshal(m)
	if err != nil {
		return obj
	}
	return b
}
