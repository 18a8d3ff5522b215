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
	azureprov "github.com/causeway-ai/causeway/internal/provider/azure"
	oaiprov "github.com/causeway-ai/causeway/internal/provider/openai"
)

// TestOpenAIToAzureRequest: OpenAI door request → Azure OpenAI body, for
// the default api-version and for 2024-06-01, which takes neither
// stream_options nor max_completion_tokens.
func TestOpenAIToAzureRequest(t *testing.T) {
	run(t, "openai-azure", "request-*.txt", func(t *testing.T, in []byte) []byte {
		req, _, err := oaidoor.DecodeChatRequest(in)
		if err != nil {
			return errText(err)
		}
		req.UpstreamModel = "my-mini"
		var out []byte
		for _, v := range []string{azureprov.DefaultAPIVersion, "2024-06-01"} {
			body, err := azureprov.EncodeChatRequest(req, v)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, "# api-version "+v+"\n"...)
			out = append(out, indent(t, body)...)
		}
		return out
	})
}

// TestAzureToOpenAIStream: Azure SSE → canonical events → client SSE,
// with Azure's filter results written back.
func TestAzureToOpenAIStream(t *testing.T) {
	run(t, "openai-azure", "stream-*.txt", func(t *testing.T, in []byte) []byte {
		st := oaiprov.DecodeStream(bytes.NewReader(in))
		return openAIStreamOut(st)
	})
}

// TestAzureToOpenAIWhole: Azure chat.completion → client chat.completion.
func TestAzureToOpenAIWhole(t *testing.T) {
	run(t, "openai-azure", "whole-*.txt", func(t *testing.T, in []byte) []byte {
		evs, err := oaiprov.DecodeResponse(in)
		if err != nil {
			return errText(err)
		}
		return openAIWholeOut(t, evs)
	})
}

// TestAzureErrorToOpenAI: an Azure error answer (status line, headers, a
// blank line, the body) → what the OpenAI client sees, with the
// Retry-After the door sends.
func TestAzureErrorToOpenAI(t *testing.T) {
	run(t, "openai-azure", "error-*.txt", func(t *testing.T, in []byte) []byte {
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
		e := oaiprov.UpstreamError("azure", status, http.Header(h), bytes.TrimSpace(body))
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
