package golden

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"encoding/json"

	antdoor "github.com/causeway-ai/causeway/internal/frontdoor/anthropic"
	oaiprov "github.com/causeway-ai/causeway/internal/provider/openai"
)

// The Anthropic door in front of an OpenAI-compatible upstream: the
// client speaks Anthropic Messages, the upstream OpenAI chat.

// antDoorErrText renders an error the way an Anthropic client sees it.
func antDoorErrText(err error) []byte {
	var b bytes.Buffer
	w := &recorder{h: map[string][]string{}, b: &b}
	antdoor.WriteError(w, err)
	return append([]byte(http_(w.code)+" "), append(b.Bytes(), '\n')...)
}

// TestAnthropicToOpenAIRequest: Anthropic door request → canonical →
// OpenAI-compatible upstream body.
func TestAnthropicToOpenAIRequest(t *testing.T) {
	run(t, "anthropic-openai", "request-*.txt", func(t *testing.T, in []byte) []byte {
		req, err := antdoor.DecodeMessagesRequest(in)
		if err != nil {
			return antDoorErrText(err)
		}
		req.UpstreamModel = "upstream-" + req.Model
		body, err := oaiprov.EncodeChatRequest(req)
		if err != nil {
			return antDoorErrText(err)
		}
		return indent(t, body)
	})
}

// TestAnthropicToOpenAIStream: upstream chat.completion.chunk SSE →
// canonical events → Anthropic named SSE events.
func TestAnthropicToOpenAIStream(t *testing.T) {
	run(t, "anthropic-openai", "stream-*.txt", func(t *testing.T, in []byte) []byte {
		st := oaiprov.DecodeStream(bytes.NewReader(in))
		defer st.Close()
		enc := &antdoor.StreamEncoder{ID: "msg_golden", Model: "alias"}
		out := enc.Start(nil)
		for {
			ev, err := st.Next()
			if err == nil {
				out, err = enc.Encode(out, &ev)
			}
			if errors.Is(err, io.EOF) {
				return enc.End(out)
			}
			if err != nil {
				return antdoor.StreamError(out, err)
			}
		}
	})
}

// TestAnthropicToOpenAIWhole: upstream chat.completion → Anthropic
// message.
func TestAnthropicToOpenAIWhole(t *testing.T) {
	run(t, "anthropic-openai", "whole-*.txt", func(t *testing.T, in []byte) []byte {
		evs, err := oaiprov.DecodeResponse(in)
		if err != nil {
			return antDoorErrText(err)
		}
		col := antdoor.NewCollector("msg_golden", "alias")
		for i := range evs {
			col.Add(&evs[i])
		}
		resp, err := col.Response()
		if err != nil {
			return antDoorErrText(err)
		}
		b, _ := json.Marshal(resp)
		return indent(t, b)
	})
}

// TestAnthropicToOpenAIError: an upstream error answer (first line: the
// status and any headers as "Name: value" lines, then a blank line and
// the body) → what the Anthropic client gets.
func TestAnthropicToOpenAIError(t *testing.T) {
	run(t, "anthropic-openai", "error-*.txt", func(t *testing.T, in []byte) []byte {
		head, body, _ := strings.Cut(string(in), "\n\n")
		lines := strings.Split(head, "\n")
		status, err := strconv.Atoi(strings.TrimSpace(lines[0]))
		if err != nil {
			t.Fatalf("first line %q is not a status", lines[0])
		}
		h := http.Header{}
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, ":"); ok {
				h.Set(k, strings.TrimSpace(v))
			}
		}
		e := oaiprov.UpstreamError("up", status, h, []byte(body))
		var b bytes.Buffer
		w := &recorder{h: map[string][]string{}, b: &b}
		antdoor.WriteError(w, e)
		out := http_(w.code)
		for _, k := range []string{"Retry-After", "X-Should-Retry"} {
			if v := w.h.Get(k); v != "" {
				out += " " + k + "=" + v
			}
		}
		return append([]byte(out+" "), append(b.Bytes(), '\n')...)
	})
}
