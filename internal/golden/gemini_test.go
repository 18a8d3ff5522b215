package golden

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	oaidoor "github.com/causeway-ai/causeway/internal/frontdoor/openai"
	gemprov "github.com/causeway-ai/causeway/internal/provider/gemini"
)

// TestOpenAIToGeminiRequest: OpenAI door request → generateContent body,
// or the error the client gets for what Gemini cannot express.
func TestOpenAIToGeminiRequest(t *testing.T) {
	run(t, "openai-gemini", "request-*.txt", func(t *testing.T, in []byte) []byte {
		req, _, err := oaidoor.DecodeChatRequest(in)
		if err != nil {
			return errText(err)
		}
		req.UpstreamModel = "gemini-2.5-flash"
		body, err := gemprov.EncodeChatRequest(req)
		if err != nil {
			return errText(err)
		}
		return indent(t, body)
	})
}

// TestGeminiToOpenAIStream: Gemini SSE → canonical events → client SSE.
func TestGeminiToOpenAIStream(t *testing.T) {
	run(t, "openai-gemini", "stream-*.txt", func(t *testing.T, in []byte) []byte {
		st := gemprov.DecodeStream(bytes.NewReader(in))
		return openAIStreamOut(st)
	})
}

// TestGeminiToOpenAIWhole: generateContent answer → client
// chat.completion.
func TestGeminiToOpenAIWhole(t *testing.T) {
	run(t, "openai-gemini", "whole-*.txt", func(t *testing.T, in []byte) []byte {
		evs, err := gemprov.DecodeResponse(in)
		if err != nil {
			return errText(err)
		}
		return openAIWholeOut(t, evs)
	})
}

// TestGeminiErrorToOpenAI: a Gemini error answer (status line, headers, a
// blank line, the body) → what the OpenAI client sees.
func TestGeminiErrorToOpenAI(t *testing.T) {
	run(t, "openai-gemini", "error-*.txt", func(t *testing.T, in []byte) []byte {
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
		e := gemprov.DecodeError("gemini", status, http.Header(h), bytes.TrimSpace(body))
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
