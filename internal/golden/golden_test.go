package golden

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	oaidoor "github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/llm"
	oaiprov "github.com/causeway-ai/causeway/internal/provider/openai"
)

var update = flag.Bool("update", false, "rewrite the expected outputs of the golden files")

const sep = "\n----------\n"

// run calls fn on the input of every file matching dir/pattern and
// compares its output with the file's expectation.
func run(t *testing.T, dir, pattern string, fn func(t *testing.T, in []byte) []byte) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files for %s/%s", dir, pattern)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(raw), sep)
			if !ok {
				t.Fatalf("%s has no %q separator", f, strings.TrimSpace(sep))
			}
			got := fn(t, []byte(in))
			if *update {
				if err := os.WriteFile(f, []byte(in+sep+string(got)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if string(got) != want {
				t.Errorf("%s: output differs\n--- got:\n%s\n--- want:\n%s", f, got, want)
			}
		})
	}
}

func indent(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("indent %s: %v", b, err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// errText renders a decode or upstream error the way a client sees it.
func errText(err error) []byte {
	var b bytes.Buffer
	w := &recorder{h: map[string][]string{}, b: &b}
	oaidoor.WriteError(w, err)
	return append([]byte(http_(w.code)+" "), append(b.Bytes(), '\n')...)
}

// TestOpenAIToOpenAIRequest: OpenAI door request → OpenAI-compatible
// upstream body.
func TestOpenAIToOpenAIRequest(t *testing.T) {
	run(t, "openai-openai", "request-*.txt", func(t *testing.T, in []byte) []byte {
		req, _, err := oaidoor.DecodeChatRequest(in)
		if err != nil {
			return errText(err)
		}
		req.UpstreamModel = "upstream-" + req.Model
		body, err := oaiprov.EncodeChatRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		return indent(t, body)
	})
}

// TestOpenAIToOpenAIStream: upstream SSE → canonical events → client SSE.
func TestOpenAIToOpenAIStream(t *testing.T) {
	run(t, "openai-openai", "stream-*.txt", func(t *testing.T, in []byte) []byte {
		st := oaiprov.DecodeStream(bytes.NewReader(in))
		return openAIStreamOut(st)
	})
}

// TestOpenAIToOpenAIWhole: upstream chat.completion → client
// chat.completion.
func TestOpenAIToOpenAIWhole(t *testing.T) {
	run(t, "openai-openai", "whole-*.txt", func(t *testing.T, in []byte) []byte {
		evs, err := oaiprov.DecodeResponse(in)
		if err != nil {
			return errText(err)
		}
		return openAIWholeOut(t, evs)
	})
}

// openAIStreamOut encodes a canonical stream as the OpenAI door would send
// it: chunks, then [DONE] or the error event that ends a failed stream.
func openAIStreamOut(st llm.Stream) []byte {
	defer st.Close()
	enc := &oaidoor.ChunkEncoder{ID: "chatcmpl-golden", Model: "alias", Created: 1700000000, IncludeUsage: true}
	var out []byte
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			return oaidoor.Done(out)
		}
		if err != nil {
			return oaidoor.StreamError(out, err)
		}
		out = enc.Encode(out, &ev)
	}
}

// openAIWholeOut collects canonical events into the OpenAI door's whole
// chat.completion, indented.
func openAIWholeOut(t *testing.T, evs []llm.Event) []byte {
	col := oaidoor.NewCollector("chatcmpl-golden", "alias", 1700000000)
	for i := range evs {
		col.Add(&evs[i])
	}
	b, _ := json.Marshal(col.Response())
	return indent(t, b)
}
