// Package openai is the OpenAI-compatible front door: it decodes Chat
// Completions, Embeddings and Models requests into the canonical model,
// hands them to the gateway, and encodes canonical events back into
// OpenAI's wire format, streamed or whole, with OpenAI's error shape.
//
// It must never import a provider: doors and providers meet only in llm,
// through the gateway.
package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
)

// knownChatFields are the top-level fields the door understands; any other
// is carried in Request.Extra for an OpenAI-family provider.
var knownChatFields = map[string]bool{
	"model": true, "messages": true, "tools": true, "tool_choice": true,
	"parallel_tool_calls": true, "response_format": true, "stream": true,
	"stream_options": true, "max_tokens": true, "max_completion_tokens": true,
	"temperature": true, "top_p": true, "stop": true, "seed": true, "n": true,
	"user": true, "metadata": true, "reasoning_effort": true,
	// Deprecated function-calling fields are rejected below rather than
	// passed through, so they cannot reach a provider that ignores them.
	"functions": true, "function_call": true,
}

// ChatOptions are door-level choices that do not belong in the canonical
// request.
type ChatOptions struct {
	IncludeUsage bool
}

func invalid(param, format string, args ...any) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalid, Param: param, Message: fmt.Sprintf(format, args...)}
}

// DecodeChatRequest decodes and validates a Chat Completions body.
func DecodeChatRequest(body []byte) (*llm.Request, ChatOptions, error) {
	var opts ChatOptions
	if !gjson.ValidBytes(body) {
		return nil, opts, invalid("", "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)").WithCode("invalid_json")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, opts, invalid("", "the request body must be a JSON object").WithCode("invalid_json")
	}
	var w wire.ChatRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, opts, typeError(err)
	}
	var extra map[string]json.RawMessage
	root.ForEach(func(k, v gjson.Result) bool {
		if !knownChatFields[k.Str] {
			if extra == nil {
				extra = make(map[string]json.RawMessage)
			}
			extra[k.Str] = json.RawMessage(v.Raw)
		}
		return true
	})
	if root.Get("functions").Exists() || root.Get("function_call").Exists() {
		return nil, opts, invalid("functions", "the deprecated 'functions' and 'function_call' parameters are not supported; use 'tools' and 'tool_choice'")
	}
	if w.Model == "" {
		return nil, opts, invalid("model", "you must provide a model parameter").WithCode("missing_required_parameter")
	}
	if len(w.Messages) == 0 {
		if !root.Get("messages").Exists() {
			return nil, opts, invalid("messages", "Missing required parameter: 'messages'.").WithCode("missing_required_parameter")
		}
		return nil, opts, invalid("messages", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.").WithCode("empty_array")
	}
	req := &llm.Request{
		Model:             w.Model,
		Stream:            w.Stream,
		Temperature:       w.Temperature,
		TopP:              w.TopP,
		Seed:              w.Seed,
		User:              w.User,
		Metadata:          w.Metadata,
		ParallelToolCalls: w.ParallelToolCalls,
		ReasoningEffort:   w.ReasoningEffort,
		Extra:             extra,
	}
	if extra != nil {
		req.ExtraFamily = "openai"
	}
	if w.StreamOptions != nil {
		if !w.Stream {
			return nil, opts, invalid("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		}
		opts.IncludeUsage = w.StreamOptions.IncludeUsage
	}
	if w.Temperature != nil && (*w.Temperature < 0 || *w.Temperature > 2) {
		return nil, opts, invalid("temperature", "Invalid 'temperature': decimal above maximum value or below minimum value. Expected a value between 0 and 2, but got %v instead.", *w.Temperature)
	}
	if w.TopP != nil && (*w.TopP < 0 || *w.TopP > 1) {
		return nil, opts, invalid("top_p", "Invalid 'top_p': expected a value between 0 and 1, but got %v instead.", *w.TopP)
	}
	switch {
	case w.MaxCompletionTokens != nil:
		if *w.MaxCompletionTokens < 1 {
			return nil, opts, invalid("max_completion_tokens", "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *w.MaxCompletionTokens)
		}
		req.MaxTokens = *w.MaxCompletionTokens
	case w.MaxTokens != nil:
		if *w.MaxTokens < 1 {
			return nil, opts, invalid("max_tokens", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *w.MaxTokens)
		}
		req.MaxTokens = *w.MaxTokens
	}
	if w.N != nil {
		if *w.N < 1 || *w.N > 128 {
			return nil, opts, invalid("n", "Invalid 'n': expected a value between 1 and 128, but got %d instead.", *w.N)
		}
		req.N = *w.N
	}
	if !wire.IsNull(w.Stop) {
		stop, err := decodeStop(w.Stop)
		if err != nil {
			return nil, opts, err
		}
		req.Stop = stop
	}
	req.Messages = make([]llm.Message, len(w.Messages))
	for i := range w.Messages {
		if err := decodeMessage(&w.Messages[i], &req.Messages[i], i); err != nil {
			return nil, opts, err
		}
	}
	if len(w.Tools) > 0 {
		req.Tools = make([]llm.Tool, len(w.Tools))
		for i, t := range w.Tools {
			if t.Type != "function" {
				return nil, opts, invalid(fmt.Sprintf("tools[%d].type", i), "Invalid value: '%s'. Supported values are: 'function'.", t.Type)
			}
			if t.Function.Name == "" {
				return nil, opts, invalid(fmt.Sprintf("tools[%d].function.name", i), "Missing required parameter: 'tools[%d].function.name'.", i).WithCode("missing_required_parameter")
			}
			if len(t.Function.Parameters) > 0 && !wire.IsNull(t.Function.Parameters) && t.Function.Parameters[0] != '{' {
				return nil, opts, invalid(fmt.Sprintf("tools[%d].function.parameters", i), "Invalid 'tools[%d].function.parameters': expected an object.", i)
			}
			req.Tools[i] = llm.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters, Strict: t.Function.Strict}
		}
	}
	if !wire.IsNull(w.ToolChoice) {
		tc, err := decodeToolChoice(w.ToolChoice, req.Tools)
		if err != nil {
			return nil, opts, err
		}
		req.ToolChoice = tc
	}
	if w.ResponseFormat != nil {
		rf, err := decodeResponseFormat(w.ResponseFormat)
		if err != nil {
			return nil, opts, err
		}
		req.ResponseFormat = rf
	}
	return req, opts, nil
}

func typeError(err error) *llm.Error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return invalid(field, "Invalid type for '%s': expected %s, but got a JSON %s instead.", field, goTypeName(te.Type.String()), te.Value).WithCode("invalid_type")
	}
	return invalid("", "invalid request body: %v", err)
}

func goTypeName(t string) string {
	switch {
	case strings.Contains(t, "int"):
		return "an integer"
	case strings.Contains(t, "float"):
		return "a number"
	case t == "string", t == "*string":
		return "a string"
	case t == "bool", t == "*bool":
		return "a boolean"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map"), strings.Contains(t, "."):
		return "an object"
	}
	return t
}

func decodeStop(raw json.RawMessage) ([]string, error) {
	s, _, isString, err := wire.StringOrParts(raw)
	if isString && err == nil {
		return []string{s}, nil
	}
	var arr []string
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, invalid("stop", "Invalid 'stop': expected a string or an array of strings.").WithCode("invalid_type")
	}
	if len(arr) > 4 {
		return nil, invalid("stop", "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length %d instead.", len(arr))
	}
	return arr, nil
}

func decodeMessage(m *wire.Message, out *llm.Message, i int) error {
	param := fmt.Sprintf("messages[%d]", i)
	switch m.Role {
	case "system", "developer", "user", "assistant", "tool":
	case "":
		return invalid(param+".role", "Missing required parameter: '%s.role'.", param).WithCode("missing_required_parameter")
	case "function":
		return invalid(param+".role", "the deprecated 'function' role is not supported; use 'tool'")
	default:
		return invalid(param+".role", "Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.", m.Role).WithCode("invalid_value")
	}
	out.Role = llm.Role(m.Role)
	out.Name = m.Name
	out.Refusal = m.Refusal
	s, parts, isString, err := wire.StringOrParts(m.Content)
	if err != nil {
		return invalid(param+".content", "Invalid type for '%s.content': expected one of a string or array of objects.", param).WithCode("invalid_type")
	}
	if isString {
		out.TextOnly = true
		switch {
		case !wire.IsNull(m.Content):
			out.Content = []llm.Part{{Type: llm.PartText, Text: s}}
		case m.Role != "assistant":
			return invalid(param+".content", "Missing required parameter: '%s.content'.", param).WithCode("missing_required_parameter")
		}
	} else {
		out.Content = make([]llm.Part, 0, len(parts))
		for j, p := range parts {
			pp := fmt.Sprintf("%s.content[%d]", param, j)
			switch p.Type {
			case "text":
				out.Content = append(out.Content, llm.Part{Type: llm.PartText, Text: p.Text})
			case "image_url":
				if m.Role != "user" {
					return invalid(pp+".type", "Image content is only supported in user messages.")
				}
				if p.ImageURL == nil || p.ImageURL.URL == "" {
					return invalid(pp+".image_url", "Missing required parameter: '%s.image_url.url'.", pp).WithCode("missing_required_parameter")
				}
				out.Content = append(out.Content, llm.Part{Type: llm.PartImage, ImageURL: p.ImageURL.URL, Detail: p.ImageURL.Detail})
			case "input_audio":
				if p.InputAudio == nil || p.InputAudio.Data == "" {
					return invalid(pp+".input_audio", "Missing required parameter: '%s.input_audio.data'.", pp).WithCode("missing_required_parameter")
				}
				out.Content = append(out.Content, llm.Part{Type: llm.PartAudio, Data: p.InputAudio.Data, Format: p.InputAudio.Format})
			case "file":
				if p.File == nil {
					return invalid(pp+".file", "Missing required parameter: '%s.file'.", pp).WithCode("missing_required_parameter")
				}
				// file_data is a data: URL; the canonical part holds the
				// bare base64 and its media type.
				part := llm.Part{Type: llm.PartFile, Data: p.File.FileData, FileID: p.File.FileID, Filename: p.File.Filename}
				if rest, ok := strings.CutPrefix(p.File.FileData, "data:"); ok {
					if meta, data, ok := strings.Cut(rest, ","); ok && strings.HasSuffix(meta, ";base64") {
						part.MediaType, part.Data = strings.TrimSuffix(meta, ";base64"), data
					}
				}
				out.Content = append(out.Content, part)
			case "refusal":
				out.Refusal += p.Refusal
			default:
				return invalid(pp+".type", "Invalid value: '%s'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', and 'file'.", p.Type).WithCode("invalid_value")
			}
		}
	}
	if len(m.ToolCalls) > 0 {
		if m.Role != "assistant" {
			return invalid(param+".tool_calls", "only assistant messages may have tool_calls")
		}
		out.ToolCalls = make([]llm.ToolCall, len(m.ToolCalls))
		for j, tc := range m.ToolCalls {
			if tc.ID == "" || tc.Function.Name == "" {
				return invalid(fmt.Sprintf("%s.tool_calls[%d]", param, j), "each tool call needs an 'id' and a 'function.name'").WithCode("missing_required_parameter")
			}
			out.ToolCalls[j] = llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
		}
	}
	if m.Role == "tool" {
		if m.ToolCallID == "" {
			return invalid(param+".tool_call_id", "Missing required parameter: '%s.tool_call_id'.", param).WithCode("missing_required_parameter")
		}
		out.ToolCallID = m.ToolCallID
	}
	return nil
}

func decodeToolChoice(raw json.RawMessage, tools []llm.Tool) (*llm.ToolChoice, error) {
	s, _, isString, err := wire.StringOrParts(raw)
	if isString && err == nil {
		switch s {
		case "auto", "none", "required":
			if s != "none" && len(tools) == 0 {
				return nil, invalid("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
			}
			return &llm.ToolChoice{Mode: llm.ToolChoiceMode(s)}, nil
		}
		return nil, invalid("tool_choice", "Invalid value: '%s'. Supported values are: 'none', 'auto', and 'required'.", s).WithCode("invalid_value")
	}
	var obj wire.ToolChoiceFunction
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Type != "function" || obj.Function.Name == "" {
		return nil, invalid("tool_choice", "Invalid 'tool_choice': expected 'none', 'auto', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.")
	}
	found := false
	for _, t := range tools {
		if t.Name == obj.Function.Name {
			found = true
			break
		}
	}
	if !found {
		return nil, invalid("tool_choice", "Invalid value for 'tool_choice': function '%s' is not among the tools given.", obj.Function.Name)
	}
	return &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: obj.Function.Name}, nil
}

func decodeResponseFormat(rf *wire.ResponseFormat) (*llm.ResponseFormat, error) {
	switch rf.Type {
	case "text":
		return &llm.ResponseFormat{Type: llm.FormatText}, nil
	case "json_object":
		return &llm.ResponseFormat{Type: llm.FormatJSONObject}, nil
	case "json_schema":
		if rf.JSONSchema == nil || rf.JSONSchema.Name == "" {
			return nil, invalid("response_format.json_schema.name", "Missing required parameter: 'response_format.json_schema.name'.").WithCode("missing_required_parameter")
		}
		if len(rf.JSONSchema.Schema) > 0 && rf.JSONSchema.Schema[0] != '{' {
			return nil, invalid("response_format.json_schema.schema", "Invalid 'response_format.json_schema.schema': expected an object.")
		}
		return &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: rf.JSONSchema.Name, Description: rf.JSONSchema.Description, Schema: rf.JSONSchema.Schema, Strict: rf.JSONSchema.Strict}, nil
	case "":
		return nil, invalid("response_format.type", "Missing required parameter: 'response_format.type'.").WithCode("missing_required_parameter")
	}
	return nil, invalid("response_format.type", "Invalid value: '%s'. Supported values are: 'text', 'json_object', and 'json_schema'.", rf.Type).WithCode("invalid_value")
}
