package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/gemini"
)

// Family is the wire family whose pass-through fields (Request.Extra) and
// headers this provider forwards.
const Family = "gemini"

// thoughtSep joins a function call's id and its thought signature in the
// canonical tool call id, so that a client of any door (which keeps tool
// call ids and nothing else) sends the signature back, as Gemini 2.5 and
// later require for function calls made while thinking.
const thoughtSep = "__thought__"

// syntheticID matches the tool call ids this codec makes up when Gemini
// gives none; they are not sent back upstream.
var syntheticID = regexp.MustCompile(`^call_[0-9]+$`)

// joinID returns the canonical tool call id of a function call: its
// upstream id, and its thought signature in unpadded base64url, so that
// the id stays within [A-Za-z0-9_-] as other providers require of ids.
func joinID(id, signature string) string {
	if signature == "" {
		return id
	}
	if b, err := base64.StdEncoding.DecodeString(signature); err == nil {
		signature = base64.RawURLEncoding.EncodeToString(b)
	}
	return id + thoughtSep + signature
}

// splitID returns the upstream function call id (empty for a synthetic
// one) and the thought signature (standard base64, as Gemini sends it)
// carried in a canonical tool call id.
func splitID(id string) (upstream, signature string) {
	upstream, signature, _ = strings.Cut(id, thoughtSep)
	if syntheticID.MatchString(upstream) {
		upstream = ""
	}
	if b, err := base64.RawURLEncoding.DecodeString(signature); err == nil && signature != "" {
		signature = base64.StdEncoding.EncodeToString(b)
	}
	return upstream, signature
}

// reasoningBudgets maps reasoning_effort to a thinking budget, as Google's
// own OpenAI compatibility layer does.
var reasoningBudgets = map[string]int{"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}

func invalid(param, format string, args ...any) *llm.Error {
	e := llm.Errorf(llm.KindInvalid, format, args...)
	e.Param = param
	return e
}

// EncodeChatRequest builds the generateContent body for req. It fails with
// KindInvalid for what Gemini cannot express.
func EncodeChatRequest(req *llm.Request) ([]byte, error) {
	var w wire.GenerateContentRequest
	if err := encodeMessages(req.Messages, &w); err != nil {
		return nil, err
	}
	for _, t := range req.Tools {
		fd := wire.FunctionDeclaration{Name: t.Name, Description: t.Description}
		fd.ParametersJSONSchema = cleanSchema(t.Parameters)
		if len(w.Tools) == 0 {
			w.Tools = []wire.Tool{{}}
		}
		w.Tools[0].FunctionDeclarations = append(w.Tools[0].FunctionDeclarations, fd)
	}
	if tc := req.ToolChoice; tc != nil {
		fc := &wire.FunctionCallingConfig{}
		switch tc.Mode {
		case llm.ToolChoiceAuto:
			fc.Mode = "AUTO"
		case llm.ToolChoiceNone:
			fc.Mode = "NONE"
		case llm.ToolChoiceRequired:
			fc.Mode = "ANY"
		case llm.ToolChoiceFunction:
			fc.Mode = "ANY"
			fc.AllowedFunctionNames = []string{tc.Name}
		default:
			return nil, invalid("tool_choice", "tool_choice %q cannot be expressed for the gemini provider", tc.Mode)
		}
		w.ToolConfig = &wire.ToolConfig{FunctionCallingConfig: fc}
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls && len(req.Tools) > 0 {
		return nil, invalid("parallel_tool_calls", "parallel_tool_calls=false cannot be expressed for the gemini provider: Gemini has no switch to forbid parallel function calls")
	}

	g := wire.GenerationConfig{
		StopSequences: req.Stop, Temperature: req.Temperature, TopP: req.TopP, TopK: req.TopK, Seed: req.Seed,
	}
	if req.MaxTokens > 0 {
		n := req.MaxTokens
		g.MaxOutputTokens = &n
	}
	if req.N > 1 {
		n := req.N
		g.CandidateCount = &n
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case llm.FormatText, "":
		case llm.FormatJSONObject:
			g.ResponseMimeType = "application/json"
		case llm.FormatJSONSchema:
			g.ResponseMimeType = "application/json"
			g.ResponseJSONSchema = cleanSchema(rf.Schema)
		default:
			return nil, invalid("response_format.type", "response_format %q cannot be expressed for the gemini provider", rf.Type)
		}
	}
	switch {
	case req.Thinking != nil && req.Thinking.Enabled:
		g.ThinkingConfig = &wire.ThinkingConfig{IncludeThoughts: true}
		if b := req.Thinking.BudgetTokens; b > 0 {
			g.ThinkingConfig.ThinkingBudget = &b
		}
	case req.Thinking != nil:
		zero := 0
		g.ThinkingConfig = &wire.ThinkingConfig{ThinkingBudget: &zero}
	case req.ReasoningEffort != "":
		b, ok := reasoningBudgets[req.ReasoningEffort]
		if !ok {
			return nil, invalid("reasoning_effort", "reasoning_effort %q cannot be expressed for the gemini provider: use none, minimal, low, medium or high", req.ReasoningEffort)
		}
		g.ThinkingConfig = &wire.ThinkingConfig{ThinkingBudget: &b}
	}
	if g.StopSequences != nil || g.ResponseMimeType != "" || g.CandidateCount != nil || g.MaxOutputTokens != nil ||
		g.Temperature != nil || g.TopP != nil || g.TopK != nil || g.Seed != nil || g.ThinkingConfig != nil {
		w.GenerationConfig = &g
	}
	b, err := json.Marshal(&w)
	if err != nil {
		return nil, err
	}
	if len(req.Extra) > 0 && req.ExtraFamily == Family {
		b = appendExtra(b, req.Extra)
	}
	return b, nil
}

// encodeMessages turns the conversation into systemInstruction and
// contents. System and developer messages all go to systemInstruction;
// consecutive turns of the same Gemini role are merged, so that the
// results of parallel calls travel in one "user" turn (a user message after
// them starts a turn of its own).
func encodeMessages(msgs []llm.Message, w *wire.GenerateContentRequest) error {
	lastIsResult := false
	for i := range msgs {
		m := &msgs[i]
		param := "messages[" + strconv.Itoa(i) + "]"
		var role string
		var parts []wire.Part
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper:
			for _, p := range m.Content {
				if p.Type != llm.PartText {
					return invalid(param+".content", "a %s message with %s content cannot be expressed for the gemini provider: its system instruction takes text only", m.Role, p.Type)
				}
				if w.SystemInstruction == nil {
					w.SystemInstruction = &wire.Content{}
				}
				w.SystemInstruction.Parts = append(w.SystemInstruction.Parts, wire.Part{Text: p.Text})
			}
			continue
		case llm.RoleUser:
			role = "user"
			for j := range m.Content {
				p, err := encodePart(&m.Content[j], param+".content["+strconv.Itoa(j)+"]")
				if err != nil {
					return err
				}
				parts = append(parts, p)
			}
		case llm.RoleAssistant:
			role = "model"
			for j := range m.Content {
				c := &m.Content[j]
				switch c.Type {
				case llm.PartThinking:
					// Reasoning goes back only with its signature, which
					// Gemini checks; bare reasoning text is not model input.
					if c.Signature != "" && (c.Origin == "" || c.Origin == Family) {
						parts = append(parts, wire.Part{Text: c.Text, Thought: true, ThoughtSignature: c.Signature})
					}
				case llm.PartRedactedThinking:
					// Another family's encrypted reasoning means nothing here.
				case llm.PartText:
					if c.Text != "" {
						parts = append(parts, wire.Part{Text: c.Text})
					}
				default:
					return invalid(param+".content", "an assistant message with %s content cannot be expressed for the gemini provider", c.Type)
				}
			}
			if m.Refusal != "" {
				parts = append(parts, wire.Part{Text: m.Refusal})
			}
			for _, tc := range m.ToolCalls {
				id, sig := splitID(tc.ID)
				args := json.RawMessage(strings.TrimSpace(tc.Arguments))
				if len(args) == 0 {
					args = json.RawMessage("{}")
				}
				if !json.Valid(args) || args[0] != '{' {
					return invalid(param+".tool_calls", "the arguments of tool call %q are not a JSON object, which the gemini provider requires", tc.ID)
				}
				parts = append(parts, wire.Part{ThoughtSignature: sig, FunctionCall: &wire.FunctionCall{ID: id, Name: tc.Name, Args: compact(args)}})
			}
		case llm.RoleTool:
			role = "user"
			name := m.ToolName
			if name == "" {
				name = toolName(msgs[:i], m.ToolCallID)
			}
			if name == "" {
				return invalid(param+".tool_call_id", "tool message answers tool_call_id %q, which no earlier assistant message made: the gemini provider needs the function's name", m.ToolCallID)
			}
			key := "result"
			if m.IsError {
				key = "error"
			}
			for _, p := range m.Content {
				if p.Type != llm.PartText {
					return invalid(param+".content", "a tool result with %s content cannot be expressed for the gemini provider", p.Type)
				}
			}
			resp, _ := json.Marshal(map[string]string{key: m.Text()})
			id, _ := splitID(m.ToolCallID)
			parts = append(parts, wire.Part{FunctionResponse: &wire.FunctionResponse{ID: id, Name: name, Response: resp}})
		default:
			return invalid(param+".role", "role %q cannot be expressed for the gemini provider", m.Role)
		}
		if len(parts) == 0 {
			continue
		}
		// Function responses travel together, in a turn of their own.
		isResult := m.Role == llm.RoleTool
		if n := len(w.Contents); n > 0 && w.Contents[n-1].Role == role && isResult == lastIsResult {
			w.Contents[n-1].Parts = append(w.Contents[n-1].Parts, parts...)
			continue
		}
		lastIsResult = isResult
		w.Contents = append(w.Contents, wire.Content{Role: role, Parts: parts})
	}
	if len(w.Contents) == 0 {
		return invalid("messages", "the gemini provider needs at least one user or assistant message")
	}
	return nil
}

// toolName finds the name of the call with id in the assistant messages
// before a tool message, the nearest first.
func toolName(before []llm.Message, id string) string {
	for i := len(before) - 1; i >= 0; i-- {
		for _, tc := range before[i].ToolCalls {
			if tc.ID == id {
				return tc.Name
			}
		}
	}
	return ""
}

// encodePart encodes a user content part.
func encodePart(p *llm.Part, param string) (wire.Part, error) {
	switch p.Type {
	case llm.PartText:
		return wire.Part{Text: p.Text}, nil
	case llm.PartImage:
		if p.ImageURL == "" && p.Data != "" {
			if err := checkInlineSize(param, p.Data); err != nil {
				return wire.Part{}, err
			}
			return wire.Part{InlineData: &wire.Blob{MimeType: p.MediaType, Data: p.Data}}, nil
		}
		if rest, ok := strings.CutPrefix(p.ImageURL, "data:"); ok {
			if _, data, ok := strings.Cut(rest, ","); ok {
				if err := checkInlineSize(param, data); err != nil {
					return wire.Part{}, err
				}
			}
		}
		return encodeURL(p.ImageURL, p.MediaType, param, "image")
	case llm.PartAudio:
		mt := p.MediaType
		if mt == "" {
			mt = p.Format
		}
		if mt != "" && !strings.Contains(mt, "/") {
			mt = "audio/" + mt
		}
		if mt == "" || p.Data == "" {
			return wire.Part{}, invalid(param, "an audio part without data or format cannot be expressed for the gemini provider")
		}
		return wire.Part{InlineData: &wire.Blob{MimeType: mt, Data: p.Data}}, nil
	case llm.PartFile:
		switch {
		case strings.HasPrefix(p.Data, "data:"):
			return encodeURL(p.Data, p.MediaType, param, "file")
		case p.Data != "":
			mt := p.MediaType
			if mt == "" {
				mt = mime.TypeByExtension(extOf(p.Filename))
			}
			if mt == "" {
				return wire.Part{}, invalid(param, "a file part whose media type is unknown cannot be expressed for the gemini provider")
			}
			return wire.Part{InlineData: &wire.Blob{MimeType: mt, Data: p.Data}}, nil
		case p.FileID != "":
			return encodeURL(p.FileID, p.MediaType, param, "file")
		}
		return wire.Part{}, invalid(param, "an empty file part cannot be expressed for the gemini provider")
	}
	return wire.Part{}, invalid(param, "%s content cannot be expressed for the gemini provider", p.Type)
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i:]
	}
	return ""
}

// encodeURL encodes media given by URL: a data: URL is sent inline; a
// gs:// URI or a Gemini Files API URI by reference. Gemini fetches no
// other URLs.
func encodeURL(u, mediaType, param, what string) (wire.Part, error) {
	switch {
	case strings.HasPrefix(u, "data:"):
		meta, data, ok := strings.Cut(u[len("data:"):], ",")
		mt, isB64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isB64 || mt == "" {
			return wire.Part{}, invalid(param, "the %s data URL must be base64 with a media type (data:<type>;base64,...) for the gemini provider", what)
		}
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			return wire.Part{}, invalid(param, "the %s data URL is not valid base64", what)
		}
		return wire.Part{InlineData: &wire.Blob{MimeType: mt, Data: data}}, nil
	case strings.HasPrefix(u, "gs://"), strings.HasPrefix(u, "https://generativelanguage.googleapis.com/"), strings.HasPrefix(u, "files/"):
		return wire.Part{FileData: &wire.FileData{MimeType: mediaType, FileURI: u}}, nil
	}
	return wire.Part{}, invalid(param, "the gemini provider cannot fetch %s URLs: send the %s inline as a data: URL, or as a gs:// or Gemini Files API URI", scheme(u, what), what)
}

// scheme names the kind of URL u is, for an error message.
func scheme(u, what string) string {
	if i := strings.Index(u, "://"); i > 0 && i < 16 {
		return u[:i+3] + " " + what
	}
	return what
}

// schemaMeta are top-level JSON Schema keywords that identify a schema
// rather than constrain values; Gemini's schema fields reject them.
var schemaMeta = []string{"$schema", "$id"}

// cleanSchema removes schemaMeta from a JSON Schema object. The schema is
// otherwise passed as it is: parametersJsonSchema and responseJsonSchema
// take JSON Schema (additionalProperties, type arrays, $ref, anyOf …),
// unlike the OpenAPI-subset parameters and responseSchema.
func cleanSchema(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	has := false
	for _, k := range schemaMeta {
		has = has || bytes.Contains(raw, []byte(`"`+k+`"`))
	}
	if !has {
		return raw
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	for _, k := range schemaMeta {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// appendExtra splices pass-through fields into a marshalled object, in a
// stable order.
func appendExtra(obj []byte, extra map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
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

// maxInlineBytes is Gemini's limit on inline data in one request (20 MB);
// larger files go through the Files API, which Causeway does not proxy.
const maxInlineBytes = 20 << 20

func checkInlineSize(param, b64 string) error {
	if n := base64.StdEncoding.DecodedLen(len(b64)); n > maxInlineBytes+2 {
		e := invalid(param, "the image is about %.1f MB; gemini accepts at most 20 MB of inline data per request", float64(n)/(1<<20))
		e.Code = "image_too_large"
		return e
	}
	return nil
}
