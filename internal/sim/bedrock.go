package sim

// This file speaks AWS Bedrock's runtime protocol: Converse (whole),
// ConverseStream (application/vnd.amazon.eventstream frames) and
// InvokeModel for Titan and Cohere embedding models, with SigV4 verified
// on every request and Bedrock-shaped errors.
//
//	POST /model/{modelId}/converse
//	POST /model/{modelId}/converse-stream
//	POST /model/{modelId}/invoke     amazon.titan-embed-* and cohere.embed-*
//
// Signatures: any access key id is accepted whose secret is
// BedrockSecretAccessKey ("sim-secret"); BedrockAccessKeyID is the one the
// examples use. The signature is recomputed with AWS's own SigV4 signer
// over the signed headers the request names, the body's SHA-256 and the
// X-Amz-Date, which must be within 15 minutes of the simulator's clock. A
// request without Authorization gets 403 MissingAuthenticationTokenException,
// a wrong signature or a stale date 403 InvalidSignatureException, as AWS
// answers.
//
// Prompt tokens: Σ over messages of 4 + the words of its text blocks,
// tool uses (name and input) and tool results (text and JSON), plus, when
// there is a system prompt, 4 + the words of its text blocks. A
// conversation whose last user turn holds tool results is answered "The
// tool returned: …". Bedrock has no JSON mode: a forced tool (the
// gateway's json_tool_call) gets arguments generated from its schema like
// any tool. Titan and Cohere embeddings count the words of each text.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	bw "github.com/causeway-ai/causeway/internal/schema/bedrock"
)

// The simulator's AWS key pair: any access key id signed with
// BedrockSecretAccessKey is accepted.
const (
	BedrockAccessKeyID     = "AKIDSIMULATOR"
	BedrockSecretAccessKey = "sim-secret"
)

// bedrockMaxSkew is how far X-Amz-Date may be from the simulator's clock.
const bedrockMaxSkew = 15 * time.Minute

func init() {
	protocols = append(protocols, func(s *Sim, m *http.ServeMux) {
		m.HandleFunc("POST /model/{modelId}/converse", s.bedrockAuth(s.bedrockConverse))
		m.HandleFunc("POST /model/{modelId}/converse-stream", s.bedrockAuth(s.bedrockConverseStream))
		m.HandleFunc("POST /model/{modelId}/invoke", s.bedrockAuth(s.bedrockInvoke))
	})
}

// bedrockError is a Bedrock error answer.
type bedrockError struct {
	status int
	typ    string
	msg    string
}

func (e *bedrockError) write(w http.ResponseWriter) {
	writeBedrockError(w, e.status, e.typ, e.msg)
}

func bedrockValidation(msg string) *bedrockError {
	return &bedrockError{status: http.StatusBadRequest, typ: "ValidationException", msg: msg}
}

// writeBedrockError writes {"message"} with x-amzn-ErrorType, as the
// Bedrock runtime does.
func writeBedrockError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(&bw.ErrorBody{Message: msg})
	w.Header().Set("X-Amzn-Errortype", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	writeJSON(w, status, body)
}

// writeBedrockFault answers with the fault's status as the Bedrock
// exception of that status.
func writeBedrockFault(w http.ResponseWriter, f *Fault) {
	typ, msg := "InternalServerException", "The server encountered an internal error while processing the request."
	switch s := f.Status; {
	case s == http.StatusBadRequest:
		typ, msg = "ValidationException", "Malformed input request, please reformat your input and try again."
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		typ, msg = "AccessDeniedException", "You don't have access to the model with the specified model ID."
	case s == http.StatusNotFound:
		typ, msg = "ResourceNotFoundException", "The provided model identifier is invalid."
	case s == http.StatusRequestTimeout:
		typ, msg = "ModelTimeoutException", "Model has timed out in processing the request. Try your request again."
	case s == http.StatusFailedDependency:
		typ, msg = "ModelErrorException", "The model returned an error."
	case s == http.StatusTooManyRequests:
		typ, msg = "ThrottlingException", "Too many requests, please wait before trying again."
	case s == http.StatusServiceUnavailable:
		typ, msg = "ServiceUnavailableException", "The service isn't currently available. Try again later."
	case s < 500:
		typ, msg = "ValidationException", "Simulated error."
	}
	if f.Message != "" {
		msg = f.Message
	}
	if f.RetryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterS))
	}
	w.Header().Set("X-Sim-Fault", f.ID)
	writeBedrockError(w, f.Status, typ, msg)
}

// bedrockHandler serves a verified request whose body has been read.
type bedrockHandler func(w http.ResponseWriter, r *http.Request, body []byte)

// bedrockAuth reads the body and verifies the request's SigV4 signature.
func (s *Sim) bedrockAuth(h bedrockHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		buf, err := readBody(w, r)
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				writeBedrockError(w, http.StatusRequestEntityTooLarge, "ValidationException", "Input is too long for requested model.")
				return
			}
			bedrockValidation("Could not read the request body.").write(w)
			return
		}
		body := bytes.Clone(buf.Bytes())
		putBody(buf)
		w.Header().Set("X-Amzn-Requestid", s.newID(""))
		if e := verifySigV4(r, body, time.Now()); e != nil {
			e.write(w)
			return
		}
		h(w, r, body)
	}
}

const signatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

func signatureError(msg string) *bedrockError {
	return &bedrockError{status: http.StatusForbidden, typ: "InvalidSignatureException", msg: msg}
}

// verifySigV4 checks r's Authorization header against a signature
// recomputed with BedrockSecretAccessKey.
func verifySigV4(r *http.Request, body []byte, now time.Time) *bedrockError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &bedrockError{status: http.StatusForbidden, typ: "MissingAuthenticationTokenException", msg: "Missing Authentication Token"}
	}
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return &bedrockError{status: http.StatusForbidden, typ: "IncompleteSignatureException",
			msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + strings.SplitN(auth, " ", 2)[0]}
	}
	var cred, signed, sig string
	for _, f := range strings.Split(auth[len(algo):], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	if cred == "" || signed == "" || sig == "" {
		return &bedrockError{status: http.StatusForbidden, typ: "IncompleteSignatureException",
			msg: "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters."}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return &bedrockError{status: http.StatusForbidden, typ: "IncompleteSignatureException", msg: "Credential should be scoped to a valid region."}
	}
	keyID, day, region, service := scope[0], scope[1], scope[2], scope[3]
	if service != "bedrock" {
		return signatureError("Credential should be scoped to correct service: 'bedrock'.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return &bedrockError{status: http.StatusForbidden, typ: "IncompleteSignatureException",
			msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if d := now.Sub(t); d > bedrockMaxSkew || d < -bedrockMaxSkew {
		return signatureError("Signature expired: " + amzDate + " is now earlier than " +
			now.Add(-bedrockMaxSkew).UTC().Format("20060102T150405Z") + " (" + now.UTC().Format("20060102T150405Z") + " - 15 min.)")
	}
	if day != t.Format("20060102") {
		return signatureError("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + day + "' != '" + t.Format("20060102") + "', from '" + amzDate + "'.")
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload {
		return signatureError("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	// Rebuild the request from what was signed and sign it again.
	re, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return signatureError(signatureMismatch)
	}
	re.Host = r.Host
	for _, name := range strings.Split(signed, ";") {
		switch name {
		case "host":
		case "content-length":
			re.ContentLength = int64(len(body))
		default:
			if vs := r.Header.Values(name); len(vs) > 0 {
				re.Header[http.CanonicalHeaderKey(name)] = vs
			} else {
				return signatureError(signatureMismatch)
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: BedrockSecretAccessKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, re, payload, "bedrock", region, t); err != nil {
		return signatureError(signatureMismatch)
	}
	want := re.Header.Get("Authorization")
	if want != auth {
		return signatureError(signatureMismatch)
	}
	return nil
}

// bedrockPrompt validates a Converse request and extracts the prompt.
func bedrockPrompt(model string, req *bw.ConverseRequest, p *prompt) *bedrockError {
	if len(req.Messages) == 0 {
		return bedrockValidation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	h := newHasher()
	h.str(model)
	tokens := 0
	if len(req.System) > 0 {
		words := 0
		for _, b := range req.System {
			if b.Text != nil {
				h.str("system")
				h.str(*b.Text)
				words += countWords(*b.Text)
			}
		}
		tokens += 4 + words
	}
	usesTools := false
	for i := range req.Messages {
		m := &req.Messages[i]
		if m.Role != "user" && m.Role != "assistant" {
			return bedrockValidation("1 validation error detected: Value '" + m.Role + "' at 'messages." + strconv.Itoa(i+1) + ".member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]")
		}
		if i == 0 && m.Role != "user" {
			return bedrockValidation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		}
		if i > 0 && req.Messages[i-1].Role == m.Role {
			return bedrockValidation("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
		if len(m.Content) == 0 {
			return bedrockValidation("The content field in the Message object at messages." + strconv.Itoa(i) + " is empty. Add a ContentBlock object to the content field and try again.")
		}
		h.str(m.Role)
		words := 0
		var texts, results []string
		for j := range m.Content {
			b := &m.Content[j]
			n := 0
			switch {
			case b.Text != nil:
				n++
				if *b.Text == "" {
					return bedrockValidation("The text field in the ContentBlock object at messages." + strconv.Itoa(i) + ".content." + strconv.Itoa(j) + " is blank. Add text to the text field, and try again.")
				}
				h.str(*b.Text)
				words += countWords(*b.Text)
				texts = append(texts, *b.Text)
			}
			if b.Image != nil {
				n++
				switch b.Image.Format {
				case "png", "jpeg", "gif", "webp":
				default:
					return bedrockValidation("1 validation error detected: Value '" + b.Image.Format + "' at 'messages." + strconv.Itoa(i+1) + ".member.content." + strconv.Itoa(j+1) + ".member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [gif, jpeg, png, webp]")
				}
				if len(b.Image.Source.Bytes) == 0 {
					return bedrockValidation("The image in messages." + strconv.Itoa(i) + ".content." + strconv.Itoa(j) + " has no bytes.")
				}
				h.str("image")
				h.bytes(b.Image.Source.Bytes)
			}
			if b.ToolUse != nil {
				n++
				usesTools = true
				if m.Role != "assistant" {
					return bedrockValidation("toolUse blocks are only allowed in assistant messages.")
				}
				h.str(b.ToolUse.ToolUseID)
				h.str(b.ToolUse.Name)
				h.bytes(b.ToolUse.Input)
				words += countWords(b.ToolUse.Name) + countWords(string(b.ToolUse.Input))
			}
			if b.ToolResult != nil {
				n++
				usesTools = true
				if m.Role != "user" {
					return bedrockValidation("toolResult blocks are only allowed in user messages.")
				}
				h.str(b.ToolResult.ToolUseID)
				h.str(b.ToolResult.Status)
				var parts []string
				for _, c := range b.ToolResult.Content {
					switch {
					case c.Text != nil:
						parts = append(parts, *c.Text)
					case len(c.JSON) > 0:
						var cb bytes.Buffer
						if json.Compact(&cb, c.JSON) == nil {
							parts = append(parts, cb.String())
						}
					}
				}
				text := strings.Join(parts, "\n")
				h.str(text)
				words += countWords(text)
				results = append(results, text)
			}
			if b.ReasoningContent != nil {
				n++
				if rt := b.ReasoningContent.ReasoningText; rt != nil {
					h.str(rt.Text)
				}
			}
			if b.CachePoint != nil {
				n++
				if b.CachePoint.Type != "default" {
					return bedrockValidation("1 validation error detected: Value '" + b.CachePoint.Type + "' at cachePoint.type failed to satisfy constraint: Member must satisfy enum value set: [default]")
				}
			}
			if len(b.Document) > 0 || len(b.GuardContent) > 0 {
				n++
			}
			if n != 1 {
				return bedrockValidation("The ContentBlock object at messages." + strconv.Itoa(i) + ".content." + strconv.Itoa(j) + " must set exactly one of its members.")
			}
		}
		tokens += 4 + words
		if m.Role == "user" {
			p.lastUser = strings.Join(texts, "\n")
			if i == len(req.Messages)-1 && results != nil {
				p.toolResults = results
			}
		}
	}
	p.inputTokens = tokens
	p.parallel = true

	if tc := req.ToolConfig; tc != nil {
		if len(tc.Tools) == 0 {
			return bedrockValidation("The toolConfig field must have at least one tool.")
		}
		for i, t := range tc.Tools {
			if t.ToolSpec == nil {
				continue
			}
			if t.ToolSpec.Name == "" || len(t.ToolSpec.InputSchema.JSON) == 0 {
				return bedrockValidation("The tool at toolConfig.tools." + strconv.Itoa(i) + " needs a name and an inputSchema.")
			}
			h.str(t.ToolSpec.Name)
			h.bytes(t.ToolSpec.InputSchema.JSON)
			p.tools = append(p.tools, toolSpec{name: t.ToolSpec.Name, params: t.ToolSpec.InputSchema.JSON})
		}
		if c := tc.ToolChoice; c != nil {
			switch {
			case c.Auto != nil:
				p.toolMode = toolAuto
				h.str("auto")
			case c.Any != nil:
				p.toolMode = toolRequired
				h.str("any")
			case c.Tool != nil:
				found := false
				for _, t := range p.tools {
					found = found || t.name == c.Tool.Name
				}
				if !found {
					return bedrockValidation("The tool " + c.Tool.Name + " in toolChoice is not defined in toolConfig.tools.")
				}
				p.toolMode, p.toolName = toolNamed, c.Tool.Name
				h.str("tool")
				h.str(c.Tool.Name)
			}
		}
	} else if usesTools {
		return bedrockValidation("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
	}
	if ic := req.InferenceConfig; ic != nil {
		if ic.MaxTokens != nil {
			if *ic.MaxTokens < 1 {
				return bedrockValidation("1 validation error detected: Value '" + strconv.Itoa(*ic.MaxTokens) + "' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1")
			}
			p.maxTokens = *ic.MaxTokens
		}
		p.stops = ic.StopSequences
	}
	p.seed = uint64(h)
	return nil
}

func (s *Sim) bedrockReadConverse(w http.ResponseWriter, r *http.Request, body []byte) (*bw.ConverseRequest, *prompt, call, bool) {
	var req bw.ConverseRequest
	if err := json.Unmarshal(body, &req); err != nil {
		bedrockValidation("Malformed input request, please reformat your input and try again.").write(w)
		return nil, nil, call{}, false
	}
	model := r.PathValue("modelId")
	p := new(prompt)
	if e := bedrockPrompt(model, &req, p); e != nil {
		e.write(w)
		return nil, nil, call{}, false
	}
	c := s.begin(model)
	if !c.stall(r.Context()) {
		return nil, nil, call{}, false
	}
	if c.fault != nil && c.fault.Status != 0 {
		writeBedrockFault(w, c.fault)
		return nil, nil, call{}, false
	}
	return &req, p, c, true
}

// bedrockStop is the stop reason of a; a cut at a stop sequence is told
// apart by planning again without the stops.
func bedrockStop(p *prompt, a *answer) string {
	switch a.finish {
	case finishToolCalls:
		return bw.StopToolUse
	case finishLength:
		return bw.StopMaxTokens
	}
	if len(p.stops) > 0 {
		q := *p
		q.stops, q.maxTokens = nil, 0
		if full := plan(&q); full.text() != a.text() {
			return bw.StopStopSequence
		}
	}
	return bw.StopEndTurn
}

// bedrockToolID turns a generated call id into Bedrock's style.
func bedrockToolID(id string) string { return "tooluse_" + strings.TrimPrefix(id, "call_") }

func bedrockUsage(a *answer) bw.TokenUsage {
	return bw.TokenUsage{InputTokens: int64(a.inputTokens), OutputTokens: int64(a.outputTokens), TotalTokens: int64(a.inputTokens + a.outputTokens)}
}

// bedrockGarbageBody is the malformed fault's whole body: not JSON.
var bedrockGarbageBody = []byte(`{"output":{"message":{"role":"assistant","content":[{"text": <<<simulated malformed body>>>`)

func (s *Sim) bedrockConverse(w http.ResponseWriter, r *http.Request, body []byte) {
	_, p, c, ok := s.bedrockReadConverse(w, r, body)
	if !ok {
		return
	}
	a := plan(p)
	start := time.Now()
	ttft, itl := s.Latency()
	if !sleep(r.Context(), ttft+itl*time.Duration(a.outputTokens)) {
		return
	}
	msg := bw.Message{Role: "assistant"}
	if len(a.calls) > 0 {
		for _, tc := range a.calls {
			msg.Content = append(msg.Content, bw.ContentBlock{ToolUse: &bw.ToolUseBlock{
				ToolUseID: bedrockToolID(tc.id), Name: tc.name, Input: json.RawMessage(tc.args)}})
		}
	} else {
		text := a.text()
		msg.Content = []bw.ContentBlock{{Text: &text}}
	}
	resp := bw.ConverseResponse{
		Output:     bw.ConverseOutput{Message: &msg},
		StopReason: bedrockStop(p, &a),
		Usage:      bedrockUsage(&a),
		Metrics:    bw.Metrics{LatencyMs: time.Since(start).Milliseconds()},
	}
	out, err := json.Marshal(&resp)
	if err != nil {
		writeBedrockError(w, http.StatusInternalServerError, "InternalServerException", "simulator: "+err.Error())
		return
	}
	c.writeWhole(w, out, bedrockGarbageBody, a.inputTokens, a.outputTokens)
}

// frameWriter writes event-stream messages, flushing each, and applies a
// fault: drop the connection in the middle of frame cutAfter+1 (a
// truncated frame), or send frame garbageAt+1 with a bad CRC and stop.
type frameWriter struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	enc       *eventstream.Encoder
	buf       bytes.Buffer
	sent      int
	cutAfter  int
	garbageAt int
}

// event encodes and sends one event; it reports false when the stream
// must stop.
func (f *frameWriter) event(typ string, payload any) bool {
	b, _ := json.Marshal(payload)
	msg := eventstream.Message{Payload: b}
	msg.Headers.Set(bw.HeaderEventType, eventstream.StringValue(typ))
	msg.Headers.Set(bw.HeaderContentType, eventstream.StringValue("application/json"))
	msg.Headers.Set(bw.HeaderMessageType, eventstream.StringValue(bw.MessageTypeEvent))
	f.buf.Reset()
	if err := f.enc.Encode(&f.buf, msg); err != nil {
		return false
	}
	frame := f.buf.Bytes()
	switch {
	case f.sent == f.garbageAt:
		bad := bytes.Clone(frame)
		bad[len(bad)-1] ^= 0xff // the message CRC no longer matches
		f.write(bad)
		return false
	case f.cutAfter > 0 && f.sent >= f.cutAfter:
		f.write(frame[:len(frame)/2])
		panic(http.ErrAbortHandler)
	}
	if !f.write(frame) {
		return false
	}
	f.sent++
	return true
}

func (f *frameWriter) write(b []byte) bool {
	if _, err := f.w.Write(b); err != nil {
		return false
	}
	_ = f.rc.Flush()
	return true
}

func (s *Sim) bedrockConverseStream(w http.ResponseWriter, r *http.Request, body []byte) {
	_, p, c, ok := s.bedrockReadConverse(w, r, body)
	if !ok {
		return
	}
	a := plan(p)
	ctx := r.Context()
	start := time.Now()
	ttft, itl := s.Latency()
	hd := w.Header()
	hd.Set("Content-Type", bw.EventStreamContentType)
	w.WriteHeader(http.StatusOK)
	f := &frameWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(),
		cutAfter: c.cutAfter(), garbageAt: c.garbageAt()}

	if !f.event(bw.EventMessageStart, bw.MessageStartEvent{Role: "assistant"}) {
		return
	}
	if !sleep(ctx, ttft) {
		return
	}
	if len(a.calls) == 0 {
		for i, tok := range a.tokens {
			if i > 0 && !sleep(ctx, itl) {
				return
			}
			t := tok
			if !f.event(bw.EventContentBlockDelta, bw.ContentBlockDeltaEvent{ContentBlockIndex: 0, Delta: bw.ContentBlockDelta{Text: &t}}) {
				return
			}
		}
		if !f.event(bw.EventContentBlockStop, bw.ContentBlockStopEvent{ContentBlockIndex: 0}) {
			return
		}
	} else {
		for i, tc := range a.calls {
			if i > 0 && !sleep(ctx, itl) {
				return
			}
			if !f.event(bw.EventContentBlockStart, bw.ContentBlockStartEvent{ContentBlockIndex: i,
				Start: bw.ContentBlockStart{ToolUse: &bw.ToolUseBlockStart{ToolUseID: bedrockToolID(tc.id), Name: tc.name}}}) {
				return
			}
			for _, frag := range tc.fragments {
				if !sleep(ctx, itl) {
					return
				}
				if !f.event(bw.EventContentBlockDelta, bw.ContentBlockDeltaEvent{ContentBlockIndex: i,
					Delta: bw.ContentBlockDelta{ToolUse: &bw.ToolUseBlockDelta{Input: frag}}}) {
					return
				}
			}
			if !f.event(bw.EventContentBlockStop, bw.ContentBlockStopEvent{ContentBlockIndex: i}) {
				return
			}
		}
	}
	if !f.event(bw.EventMessageStop, bw.MessageStopEvent{StopReason: bedrockStop(p, &a)}) {
		return
	}
	// A fault still pending at the end applies to the metadata event,
	// which is then never delivered whole.
	if (f.cutAfter > 0 && f.sent >= f.cutAfter) || f.sent == f.garbageAt {
		f.event(bw.EventMetadata, bw.MetadataEvent{Usage: bedrockUsage(&a)})
		return
	}
	if f.cutAfter > 0 || f.garbageAt >= 0 {
		// The fault's position lies beyond the stream's end: damage the
		// last event anyway, so the fault is never silently ignored.
		f.cutAfter, f.garbageAt = f.sent, -1
		if c.fault.Malformed {
			f.cutAfter, f.garbageAt = 0, f.sent
		}
		f.event(bw.EventMetadata, bw.MetadataEvent{Usage: bedrockUsage(&a)})
		return
	}
	c.complete(a.inputTokens, a.outputTokens)
	f.event(bw.EventMetadata, bw.MetadataEvent{Usage: bedrockUsage(&a), Metrics: bw.Metrics{LatencyMs: time.Since(start).Milliseconds()}})
}

// bedrockEmbedDims is Titan v2's default vector size (and Cohere's).
const bedrockEmbedDims = 1024

func (s *Sim) bedrockInvoke(w http.ResponseWriter, r *http.Request, body []byte) {
	model := r.PathValue("modelId")
	var (
		out    []byte
		tokens int
	)
	switch {
	case strings.Contains(model, "titan-embed"):
		var req bw.TitanEmbedRequest
		if err := json.Unmarshal(body, &req); err != nil || req.InputText == "" {
			bedrockValidation("Malformed input request: #: required key [inputText] not found, please reformat your input and try again.").write(w)
			return
		}
		dims := bedrockEmbedDims
		if req.Dimensions != nil {
			switch *req.Dimensions {
			case 256, 512, 1024:
				dims = *req.Dimensions
			default:
				bedrockValidation("Malformed input request: #/dimensions: " + strconv.Itoa(*req.Dimensions) + " is not a valid enum value, please reformat your input and try again.").write(w)
				return
			}
		}
		vec := make([]float32, dims)
		embed(req.InputText, vec)
		tokens = countWords(req.InputText)
		b := []byte(`{"embedding":`)
		b = appendFloatVector(b, vec)
		b = append(b, `,"inputTextTokenCount":`...)
		b = strconv.AppendInt(b, int64(tokens), 10)
		out = append(b, '}')
	case strings.Contains(model, "cohere.embed"):
		var req bw.CohereEmbedRequest
		if err := json.Unmarshal(body, &req); err != nil || len(req.Texts) == 0 || len(req.Texts) > 96 {
			bedrockValidation("Malformed input request: #/texts: expected 1 to 96 texts, please reformat your input and try again.").write(w)
			return
		}
		switch req.InputType {
		case "search_document", "search_query", "classification", "clustering":
		default:
			bedrockValidation("Malformed input request: #/input_type: " + strconv.Quote(req.InputType) + " is not a valid enum value, please reformat your input and try again.").write(w)
			return
		}
		vec := make([]float32, bedrockEmbedDims)
		b := []byte(`{"id":"` + s.newID("") + `","embeddings":[`)
		for i, t := range req.Texts {
			if i > 0 {
				b = append(b, ',')
			}
			embed(t, vec)
			b = appendFloatVector(b, vec)
			tokens += countWords(t)
		}
		texts, _ := json.Marshal(req.Texts)
		b = append(b, `],"texts":`...)
		b = append(b, texts...)
		out = append(b, `,"response_type":"embeddings_floats"}`...)
	default:
		bedrockValidation("The provided model identifier is invalid.").write(w)
		return
	}
	c := s.begin(model)
	if !c.stall(r.Context()) {
		return
	}
	if c.fault != nil && c.fault.Status != 0 {
		writeBedrockFault(w, c.fault)
		return
	}
	ttft, _ := s.Latency()
	if !sleep(r.Context(), ttft) {
		return
	}
	c.writeWhole(w, out, bedrockGarbageBody, tokens, 0, bw.HeaderInputTokenCount, strconv.Itoa(tokens))
}
