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

	oaidoor "github.com/causeway-ai/causeway/internal/frontdoor/openai"
	antprov "github.com/causeway-ai/causeway/internal/provider/anthropic"
)

// The OpenAI door in front of the Anthropic provider. A stream or whole
// file whose name contains "json" is decoded as the answer to a request
// with response_format (carried by the forced json_output tool).

// TestOpenAIToAnthropicRequest: OpenAI door request → Messages body (or
// the error the client gets for what Anthropic cannot express).
func TestOpenAIToAnthropicRequest(t *testing.T) {
	run(t, "openai-anthropic", "request-*.txt", func(t *testing.T, in []byte) []byte {
		req, _, err := oaidoor.DecodeChatRequest(in)
		if err != nil {
			return errText(err)
		}
		req.UpstreamModel = "claude-sonnet-4-5"
		body, err := antprov.EncodeRequest(req)
		if err != nil {
			return errText(err)
		}
		return indent(t, body)
	})
}

// TestAnthropicProviderToOpenAIStream: Messages SSE → canonical events →
// client SSE.
func TestAnthropicProviderToOpenAIStream(t *testing.T) {
	run(t, "openai-anthropic", "stream-*.txt", func(t *testing.T, in []byte) []byte {
		st := antprov.DecodeStream(bytes.NewReader(in), strings.Contains(t.Name(), "json"))
		return openAIStreamOut(st)
	})
}

// TestAnthropicProviderToOpenAIWhole: a whole message → client
// chat.completion.
func TestAnthropicProviderToOpenAIWhole(t *testing.T) {
	run(t, "openai-anthropic", "whole-*.txt", func(t *testing.T, in []byte) []byte {
		evs, err := antprov.DecodeResponse(in, strings.Contains(filepath.Base(t.Name()), "json"))
		if err != nil {
			return errText(err)
		}
		return openAIWholeOut(t, evs)
	})
}

// TestAnthropicProviderErrorToOpenAI: an Anthropic error answer (status
// line, headers, a blank line, the body) → what the OpenAI client sees.
func TestAnthropicProviderErrorToOpenAI(t *testing.T) {
	run(t, "openai-anthropic", "error-*.txt", func(t *testing.T, in []byte) []byte {
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
		err = antprov.DecodeError("anthropic", status, http.Header(h), bytes.TrimSpace(body))
		var b bytes.Buffer
		w := &recorder{h: map[string][]string{}, b: &b}
		oaidoor.WriteError(w, err)
		out := http_(w.code)
		if ra := w.h["Retry-After"]; len(ra) > 0 {
			out += " Retry-After=" + ra[0]
		}
		return append([]byte(out+" "), append(b.Bytes(), '\n')...)
	})
}
