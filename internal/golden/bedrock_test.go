package golden

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	oaidoor "github.com/causeway-ai/causeway/internal/frontdoor/openai"
	bedrockprov "github.com/causeway-ai/causeway/internal/provider/bedrock"
)

// TestOpenAIToBedrockRequest: OpenAI door request → Converse body, or the
// error the client gets for what Bedrock cannot express.
func TestOpenAIToBedrockRequest(t *testing.T) {
	run(t, "openai-bedrock", "request-*.txt", func(t *testing.T, in []byte) []byte {
		req, _, err := oaidoor.DecodeChatRequest(in)
		if err != nil {
			return errText(err)
		}
		req.UpstreamModel = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
		body, _, err := bedrockprov.EncodeRequest(req)
		if err != nil {
			return errText(err)
		}
		return indent(t, body)
	})
}

// encodeFrames turns the readable form of a ConverseStream used by the
// golden files into event-stream frames. Each line is
//
//	[!badcrc |!cut ]event:<event type> <JSON payload>
//	[!badcrc |!cut ]exception:<exception type> <JSON payload>
//
// "!badcrc" flips a bit of the frame's message CRC; "!cut" writes half
// the frame and ends the stream there.
func encodeFrames(t *testing.T, in []byte) []byte {
	var out bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, line := range strings.Split(strings.TrimSpace(string(in)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var damage string
		if strings.HasPrefix(line, "!") {
			damage, line, _ = strings.Cut(line, " ")
		}
		head, payload, _ := strings.Cut(line, " ")
		kind, name, ok := strings.Cut(head, ":")
		if !ok {
			t.Fatalf("bad frame line %q", line)
		}
		var msg eventstream.Message
		msg.Payload = []byte(payload)
		switch kind {
		case "event":
			msg.Headers.Set(":event-type", eventstream.StringValue(name))
			msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
			msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		case "exception":
			msg.Headers.Set(":exception-type", eventstream.StringValue(name))
			msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
			msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
		default:
			t.Fatalf("bad frame kind %q", kind)
		}
		var frame bytes.Buffer
		if err := enc.Encode(&frame, msg); err != nil {
			t.Fatal(err)
		}
		b := frame.Bytes()
		switch damage {
		case "":
		case "!badcrc":
			b[len(b)-1] ^= 1
		case "!cut":
			out.Write(b[:len(b)/2])
			return out.Bytes()
		default:
			t.Fatalf("bad damage %q", damage)
		}
		out.Write(b)
	}
	return out.Bytes()
}

// TestBedrockToOpenAIStream: ConverseStream frames → canonical events →
// client SSE. Files named stream-json-* decode a forced-JSON-tool answer.
func TestBedrockToOpenAIStream(t *testing.T) {
	run(t, "openai-bedrock", "stream-*.txt", func(t *testing.T, in []byte) []byte {
		jsonMode := strings.HasPrefix(filepath.Base(t.Name()), "stream-json-")
		st := bedrockprov.DecodeStream(bytes.NewReader(encodeFrames(t, in)), jsonMode)
		return openAIStreamOut(st)
	})
}

// TestBedrockToOpenAIWhole: Converse answer → client chat.completion.
// Files named whole-json-* decode a forced-JSON-tool answer.
func TestBedrockToOpenAIWhole(t *testing.T) {
	run(t, "openai-bedrock", "whole-*.txt", func(t *testing.T, in []byte) []byte {
		jsonMode := strings.HasPrefix(filepath.Base(t.Name()), "whole-json-")
		evs, err := bedrockprov.DecodeResponse(in, "req-golden", "upstream", jsonMode)
		if err != nil {
			return errText(err)
		}
		return openAIWholeOut(t, evs)
	})
}

// TestBedrockErrorToOpenAI: a Bedrock error answer (status line, headers,
// a blank line, the body) → what the OpenAI client sees.
func TestBedrockErrorToOpenAI(t *testing.T) {
	run(t, "openai-bedrock", "error-*.txt", func(t *testing.T, in []byte) []byte {
		r := textproto.NewReader(bufio.NewReader(bytes.NewReader(in)))
		line, err := r.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		status, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("status line %q: %v", line, err)
		}
		h, err := r.ReadMIMEHeader()
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.R)
		e := bedrockprov.ErrorFromResponse("bedrock", status, http.Header(h), bytes.TrimSpace(body))
		var b bytes.Buffer
		w := &recorder{h: map[string][]string{}, b: &b}
		oaidoor.WriteError(w, e)
		out := http_(w.code) + " kind=" + e.Kind.String()
		if ra := w.h["Retry-After"]; len(ra) > 0 {
			out += " Retry-After=" + ra[0]
		}
		return append([]byte(out+" "), append(b.Bytes(), '\n')...)
	})
}
