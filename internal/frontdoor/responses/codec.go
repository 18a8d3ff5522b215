package responses

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/runtime"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
)

func invalid(param, format string, args ...any) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalid, Param: param, Message: fmt.Sprintf(format, args...)}
}

func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		if _, ok := errors.AsType[*json.SyntaxError](err); ok || len(body) == 0 {
			return invalid("", "We could not parse the JSON body of your request.").WithCode("invalid_json")
		}
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return invalid(te.Field, "Invalid type for '%s': expected %s, but got %s.", te.Field, te.Type, te.Value).WithCode("invalid_type")
		}
		return invalid("", "Invalid body: %s.", err.Error())
	}
	return nil
}

// checkMetadata applies OpenAI's limits: 16 pairs, keys up to 64
// characters, values up to 512.
func checkMetadata(m map[string]string) error {
	if len(m) > 16 {
		return invalid("metadata", "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with %d properties instead.", len(m)).WithCode("object_above_max_properties")
	}
	for k, v := range m {
		if len(k) > 64 {
			return invalid("metadata", "Invalid 'metadata': key '%s' is too long. Expected a key with maximum length 64, but got a key with length %d instead.", k, len(k)).WithCode("invalid_metadata")
		}
		if len(v) > 512 {
			return invalid("metadata."+k, "Invalid 'metadata.%s': string too long. Expected a string with maximum length 512, but got a string with length %d instead.", k, len(v)).WithCode("string_above_max_length")
		}
	}
	return nil
}

var roles = map[string]bool{"user": true, "assistant": true, "system": true, "developer": true}

var partTypes = map[string]bool{"input_text": true, "output_text": true, "input_image": true, "refusal": true}

// decodeItems parses an array of input items and checks each against
// the types this gateway supports.
func decodeItems(param string, raws []json.RawMessage) ([]wire.Item, error) {
	items := make([]wire.Item, len(raws))
	for i, raw := range raws {
		p := param + "[" + strconv.Itoa(i) + "]"
		it := &items[i]
		if err := json.Unmarshal(raw, it); err != nil {
			return nil, invalid(p, "Invalid '%s': expected an input item object.", p).WithCode("invalid_type")
		}
		switch {
		case it.Type == "" && it.Role != "":
			it.Type = "message" // an easy input message
		case it.Type == "" && it.ID != "":
			it.Type = "item_reference" // its type is optional
		}
		switch it.Type {
		case "message":
			if !roles[it.Role] {
				return nil, invalid(p+".role", "Invalid value: '%s'. Supported values are: 'user', 'assistant', 'system', and 'developer'.", it.Role).WithCode("invalid_value")
			}
			if err := checkContent(p+".content", it.Content); err != nil {
				return nil, err
			}
		case "function_call":
			if it.CallID == "" {
				return nil, invalid(p+".call_id", "Missing required parameter: '%s.call_id'.", p).WithCode("missing_required_parameter")
			}
			if it.Name == "" {
				return nil, invalid(p+".name", "Missing required parameter: '%s.name'.", p).WithCode("missing_required_parameter")
			}
			if it.Arguments == nil {
				return nil, invalid(p+".arguments", "Missing required parameter: '%s.arguments'.", p).WithCode("missing_required_parameter")
			}
		case "function_call_output":
			if it.CallID == "" {
				return nil, invalid(p+".call_id", "Missing required parameter: '%s.call_id'.", p).WithCode("missing_required_parameter")
			}
			if len(it.Output) == 0 {
				return nil, invalid(p+".output", "Missing required parameter: '%s.output'.", p).WithCode("missing_required_parameter")
			}
		case "reasoning":
			// Opaque: replayed (as the runtime stored it) to the family
			// that made it only.
		case "mcp_approval_response":
			if it.ApprovalRequestID == "" {
				return nil, invalid(p+".approval_request_id", "Missing required parameter: '%s.approval_request_id'.", p).WithCode("missing_required_parameter")
			}
			if it.Approve == nil {
				return nil, invalid(p+".approve", "Missing required parameter: '%s.approve'.", p).WithCode("missing_required_parameter")
			}
		case "mcp_approval_request":
			if it.ID == "" || it.Name == "" || it.Arguments == nil {
				return nil, invalid(p, "Invalid '%s': an mcp_approval_request needs 'id', 'name' and 'arguments'.", p).WithCode("missing_required_parameter")
			}
		case "compaction":
			if it.EncryptedContent == "" {
				return nil, invalid(p+".encrypted_content", "Missing required parameter: '%s.encrypted_content'.", p).WithCode("missing_required_parameter")
			}
		case "item_reference":
			if it.ID == "" {
				return nil, invalid(p+".id", "Missing required parameter: '%s.id'.", p).WithCode("missing_required_parameter")
			}
		case "":
			return nil, invalid(p+".type", "Missing required parameter: '%s.type'.", p).WithCode("missing_required_parameter")
		default:
			return nil, invalid(p+".type", "Input item type '%s' is not supported yet by this gateway.", it.Type).WithCode("unsupported_value")
		}
	}
	return items, nil
}

func checkContent(param string, raw json.RawMessage) error {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return nil
	}
	var parts []wire.Part
	if err := json.Unmarshal(raw, &parts); err != nil || raw == nil {
		return invalid(param, "Invalid type for '%s': expected a string or an array of content parts.", param).WithCode("invalid_type")
	}
	for j, pt := range parts {
		if !partTypes[pt.Type] {
			return invalid(param+"["+strconv.Itoa(j)+"].type", "Content part type '%s' is not supported yet by this gateway.", pt.Type).WithCode("unsupported_value")
		}
	}
	return nil
}

// DecodeCreate decodes and validates a POST /v1/responses body.
func DecodeCreate(body []byte) (*runtime.CreateParams, error) {
	var r wire.CreateRequest
	if err := decodeJSON(body, &r); err != nil {
		return nil, err
	}
	if r.Model == "" {
		return nil, invalid("model", "Missing required parameter: 'model'.").WithCode("missing_required_parameter")
	}
	cp := &runtime.CreateParams{Req: &r, Body: json.RawMessage(body)}
	if len(r.Input) > 0 && string(r.Input) != "null" {
		var s string
		if json.Unmarshal(r.Input, &s) == nil {
			cp.Input = []wire.Item{{Type: "message", Role: "user", Content: r.Input}}
		} else {
			var raws []json.RawMessage
			if err := json.Unmarshal(r.Input, &raws); err != nil {
				return nil, invalid("input", "Invalid type for 'input': expected a string or an array of input items.").WithCode("invalid_type")
			}
			items, err := decodeItems("input", raws)
			if err != nil {
				return nil, err
			}
			cp.Input = items
		}
	}
	if len(r.Conversation) > 0 && string(r.Conversation) != "null" {
		var id string
		if json.Unmarshal(r.Conversation, &id) != nil {
			var ref struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r.Conversation, &ref); err != nil {
				return nil, invalid("conversation", "Invalid type for 'conversation': expected a string or an object with an id.").WithCode("invalid_type")
			}
			id = ref.ID
		}
		if id == "" {
			return nil, invalid("conversation", "Invalid 'conversation': empty id.")
		}
		cp.ConversationID = id
	}
	if cp.ConversationID != "" && r.PreviousResponseID != nil && *r.PreviousResponseID != "" {
		return nil, invalid("", "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.").WithCode("mutually_exclusive_parameters")
	}
	if err := checkMetadata(r.Metadata); err != nil {
		return nil, err
	}
	for i, raw := range r.Tools {
		var t wire.FunctionTool
		p := "tools[" + strconv.Itoa(i) + "]"
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, invalid(p, "Invalid '%s': expected a tool object.", p).WithCode("invalid_type")
		}
		// "function" tools are run by the client; "causeway" tools are
		// server-side tools Causeway runs (if the key allows them).
		if t.Type != "function" && t.Type != "causeway" {
			return nil, invalid(p+".type", "Tool type '%s' is not supported yet by this gateway; only 'function' and 'causeway' tools are.", t.Type).WithCode("unsupported_value")
		}
		if t.Name == "" {
			return nil, invalid(p+".name", "Missing required parameter: '%s.name'.", p).WithCode("missing_required_parameter")
		}
		switch {
		case t.RequireApproval == "":
		case t.Type != "causeway":
			return nil, invalid(p+".require_approval", "Invalid '%s.require_approval': only 'causeway' tools take it.", p).WithCode("invalid_value")
		case t.RequireApproval != "always" && t.RequireApproval != "never":
			return nil, invalid(p+".require_approval", "Invalid value: '%s'. Supported values are: 'always' and 'never'.", t.RequireApproval).WithCode("invalid_value")
		}
	}
	if len(r.ToolChoice) > 0 && string(r.ToolChoice) != "null" {
		var s string
		if json.Unmarshal(r.ToolChoice, &s) == nil {
			if s != "none" && s != "auto" && s != "required" {
				return nil, invalid("tool_choice", "Invalid value: '%s'. Supported values are: 'none', 'auto', and 'required'.", s).WithCode("invalid_value")
			}
		} else {
			var tc struct{ Type, Name string }
			if err := json.Unmarshal(r.ToolChoice, &tc); err != nil || tc.Type != "function" || tc.Name == "" {
				return nil, invalid("tool_choice", "Invalid 'tool_choice': only 'none', 'auto', 'required' and {type: 'function', name} are supported yet by this gateway.").WithCode("unsupported_value")
			}
		}
	} else {
		r.ToolChoice = nil
	}
	if r.Text != nil && r.Text.Format != nil {
		switch f := r.Text.Format; f.Type {
		case "text", "json_object":
		case "json_schema":
			if f.Name == "" {
				return nil, invalid("text.format.name", "Missing required parameter: 'text.format.name'.").WithCode("missing_required_parameter")
			}
			if len(f.Schema) == 0 {
				return nil, invalid("text.format.schema", "Missing required parameter: 'text.format.schema'.").WithCode("missing_required_parameter")
			}
		default:
			return nil, invalid("text.format.type", "Invalid value: '%s'. Supported values are: 'text', 'json_object', and 'json_schema'.", f.Type).WithCode("invalid_value")
		}
	}
	if r.Truncation != nil && *r.Truncation != "disabled" && *r.Truncation != "auto" {
		return nil, invalid("truncation", "Invalid value: '%s'. Supported values are: 'auto' and 'disabled'.", *r.Truncation).WithCode("invalid_value")
	}
	if r.Background != nil && *r.Background && r.Store != nil && !*r.Store {
		return nil, invalid("background", "Background mode requires 'store' to be true.").WithCode("invalid_value")
	}
	for i, inc := range r.Include {
		if !includables[inc] {
			return nil, invalid("include["+strconv.Itoa(i)+"]", "Invalid value: '%s'. Supported values are: '%s'.", inc,
				strings.Join(slices.Sorted(maps.Keys(includables)), "', '")).WithCode("invalid_value")
		}
	}
	if r.Temperature != nil && !(*r.Temperature >= 0 && *r.Temperature <= 2) {
		return nil, rangeErr("temperature", *r.Temperature, 0, 2)
	}
	if r.TopP != nil && !(*r.TopP >= 0 && *r.TopP <= 1) {
		return nil, rangeErr("top_p", *r.TopP, 0, 1)
	}
	if r.MaxCostUSD != nil && !(*r.MaxCostUSD > 0) {
		return nil, invalid("max_cost_usd", "Invalid 'max_cost_usd': expected a positive number of US dollars.").WithCode("invalid_value")
	}
	if r.MaxToolCalls != nil && *r.MaxToolCalls < 1 {
		return nil, invalid("max_tool_calls", "Invalid 'max_tool_calls': integer below minimum value. Expected a value >= 1, but got %d instead.", *r.MaxToolCalls).WithCode("integer_below_min_value")
	}
	if r.MaxOutputTokens != nil && *r.MaxOutputTokens < 16 {
		return nil, invalid("max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got %d instead.", *r.MaxOutputTokens).WithCode("integer_below_min_value")
	}
	return cp, nil
}

// DecodeItems decodes the items of a conversation body, at most 20.
func DecodeItems(raws []json.RawMessage) ([]wire.Item, error) {
	if len(raws) > 20 {
		return nil, invalid("items", "Invalid 'items': array too long. Expected an array with maximum length 20, but got an array with length %d instead.", len(raws)).WithCode("array_above_max_length")
	}
	return decodeItems("items", raws)
}

// rangeErr is OpenAI's error for a number out of its range.
func rangeErr(param string, v, lo, hi float64) error {
	if v < lo {
		return invalid(param, "Invalid '%s': decimal below minimum value. Expected a value >= %g, but got %g instead.", param, lo, v).WithCode("decimal_below_min_value")
	}
	return invalid(param, "Invalid '%s': decimal above maximum value. Expected a value <= %g, but got %g instead.", param, hi, v).WithCode("decimal_above_max_value")
}

// includables are the values include[] takes (OpenAI's). Those about
// tools and parts this gateway does not have are accepted and have
// nothing to add; reasoning items always carry encrypted_content.
var includables = map[string]bool{
	"file_search_call.results": true, "web_search_call.results": true, "web_search_call.action.sources": true,
	"message.input_image.image_url": true, "computer_call_output.output.image_url": true,
	"code_interpreter_call.outputs": true, "reasoning.encrypted_content": true, "message.output_text.logprobs": true,
}
