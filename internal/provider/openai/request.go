package openai

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
)

// EncodeChatRequest builds the upstream body for req. Streaming requests always
// ask for usage, whatever the client asked, so that metering is exact.
func EncodeChatRequest(req *llm.Request) ([]byte, error) {
	return EncodeChatRequestDialect(req, Dialect{})
}

// EncodeChatRequestDialect builds the upstream body for req in the given
// dialect of the protocol.
func EncodeChatRequestDialect(req *llm.Request, d Dialect) ([]byte, error) {
	w := wire.ChatRequest{
		Model:             req.UpstreamModel,
		Stream:            req.Stream,
		Temperature:       req.Temperature,
		TopP:              req.TopP,
		Seed:              req.Seed,
		User:              req.User,
		Metadata:          req.Metadata,
		ParallelToolCalls: req.ParallelToolCalls,
		ReasoningEffort:   req.ReasoningEffort,
		// top_k is not OpenAI's, but vLLM, llama.cpp and Ollama read it;
		// OpenAI itself refuses it with a clear 400.
		TopK: req.TopK,
	}
	if req.Stream && !d.NoStreamOptions {
		w.StreamOptions = &wire.StreamOptions{IncludeUsage: true}
	}
	if th := req.Thinking; th != nil && th.Enabled && w.ReasoningEffort == "" {
		// OpenAI's reasoning models take an effort, not a budget.
		switch {
		case th.BudgetTokens > 0 && th.BudgetTokens <= 2048:
			w.ReasoningEffort = "low"
		case th.BudgetTokens > 16384:
			w.ReasoningEffort = "high"
		default:
			w.ReasoningEffort = "medium"
		}
	}
	if req.MaxTokens > 0 {
		n := req.MaxTokens
		if d.LegacyMaxTokens {
			w.MaxTokens = &n
		} else {
			w.MaxCompletionTokens = &n
		}
	}
	if req.N > 1 {
		n := req.N
		w.N = &n
	}
	if len(req.Stop) > 0 {
		b, _ := json.Marshal(req.Stop)
		w.Stop = b
	}
	w.Messages = make([]wire.Message, len(req.Messages))
	for i := range req.Messages {
		if err := encodeMessage(&req.Messages[i], &w.Messages[i]); err != nil {
			return nil, err
		}
	}
	for _, t := range req.Tools {
		w.Tools = append(w.Tools, wire.Tool{Type: "function", Function: wire.Function{
			Name: t.Name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict,
		}})
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Mode {
		case llm.ToolChoiceFunction:
			var o wire.ToolChoiceFunction
			o.Type = "function"
			o.Function.Name = tc.Name
			w.ToolChoice, _ = json.Marshal(o)
		default:
			w.ToolChoice, _ = json.Marshal(string(tc.Mode))
		}
	}
	if rf := req.ResponseFormat; rf != nil {
		w.ResponseFormat = &wire.ResponseFormat{Type: string(rf.Type)}
		if rf.Type == llm.FormatJSONSchema {
			w.ResponseFormat.JSONSchema = &wire.JSONSchema{Name: rf.Name, Description: rf.Description, Schema: rf.Schema, Strict: rf.Strict}
		}
	}
	b, err := json.Marshal(&w)
	if err != nil {
		return nil, err
	}
	if len(req.Extra) > 0 && req.ExtraFamily == "openai" {
		b = appendExtra(b, req.Extra)
	}
	return b, nil
}

// appendExtra splices pass-through fields into a marshalled object, in a
// stable order.
func appendExtra(obj []byte, extra map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Drop the object's one closing brace (TrimRight would also eat those
	// of a nested object that ends the body).
	out := bytes.TrimSuffix(obj, []byte("}"))
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

func encodeMessage(m *llm.Message, out *wire.Message) error {
	out.Role = string(m.Role)
	out.Name = m.Name
	out.ToolCallID = m.ToolCallID
	out.Refusal = m.Refusal
	for _, tc := range m.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, wire.ToolCall{ID: tc.ID, Type: "function", Function: wire.FunctionCall{Name: tc.Name, Arguments: tc.Arguments}})
	}
	switch {
	case len(m.Content) == 0:
		if m.Role != llm.RoleAssistant {
			out.Content = json.RawMessage(`""`)
		}
	case (m.TextOnly || len(m.Content) == 1) && allText(m.Content):
		// Several text parts stay parts: joining them would run sentences
		// together ("You are Claude Code.Work in /repo.").
		b, err := json.Marshal(m.Text())
		if err != nil {
			return err
		}
		out.Content = b
	default:
		parts := make([]wire.ContentPart, 0, len(m.Content))
		for _, p := range m.Content {
			switch p.Type {
			case llm.PartText:
				parts = append(parts, wire.ContentPart{Type: "text", Text: p.Text})
			case llm.PartImage:
				parts = append(parts, wire.ContentPart{Type: "image_url", ImageURL: &wire.ImageURL{URL: p.ImageURL, Detail: p.Detail}})
			case llm.PartAudio:
				parts = append(parts, wire.ContentPart{Type: "input_audio", InputAudio: &wire.InputAudio{Data: p.Data, Format: p.Format}})
			case llm.PartFile:
				data := p.Data
				if p.MediaType != "" && data != "" {
					data = "data:" + p.MediaType + ";base64," + data
				}
				parts = append(parts, wire.ContentPart{Type: "file", File: &wire.File{FileData: data, FileID: p.FileID, Filename: p.Filename}})
			}
		}
		if len(parts) == 0 && m.Role == llm.RoleAssistant {
			break // only reasoning, which OpenAI takes no part for
		}
		b, err := json.Marshal(parts)
		if err != nil {
			return err
		}
		out.Content = b
	}
	return nil
}

func allText(ps []llm.Part) bool {
	for _, p := range ps {
		if p.Type != llm.PartText {
			return false
		}
	}
	return true
}
