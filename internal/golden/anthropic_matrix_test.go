package golden

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	antdoor "github.com/causeway-ai/causeway/internal/frontdoor/anthropic"
	"github.com/causeway-ai/causeway/internal/llm"
	antprov "github.com/causeway-ai/causeway/internal/provider/anthropic"
	azureprov "github.com/causeway-ai/causeway/internal/provider/azure"
	bedrockprov "github.com/causeway-ai/causeway/internal/provider/bedrock"
	gemprov "github.com/causeway-ai/causeway/internal/provider/gemini"
	oaiprov "github.com/causeway-ai/causeway/internal/provider/openai"
)

// The Anthropic door in front of every other provider. The inputs are
// shared with the other golden tests: the Anthropic door's requests from
// testdata/anthropic-openai, and each provider's upstream streams from
// testdata/openai-<provider>; the expectations live in
// testdata/anthropic-<provider>, one file per input, each holding its input
// again so it reads on its own.

type providerCodec struct {
	name   string
	encode func(*llm.Request) ([]byte, error)
	stream func(t *testing.T, in []byte, file string) llm.Stream
}

var anthropicDoorTargets = []providerCodec{
	{"anthropic", antprov.EncodeRequest, func(t *testing.T, in []byte, file string) llm.Stream {
		return antprov.DecodeStream(bytes.NewReader(in), strings.Contains(file, "json"))
	}},
	{"bedrock", func(r *llm.Request) ([]byte, error) { b, _, err := bedrockprov.EncodeRequest(r); return b, err },
		func(t *testing.T, in []byte, file string) llm.Stream {
			return bedrockprov.DecodeStream(bytes.NewReader(encodeFrames(t, in)), strings.HasPrefix(file, "stream-json-"))
		}},
	{"gemini", gemprov.EncodeChatRequest, func(t *testing.T, in []byte, _ string) llm.Stream {
		return gemprov.DecodeStream(bytes.NewReader(in))
	}},
	{"azure", func(r *llm.Request) ([]byte, error) {
		return azureprov.EncodeChatRequest(r, azureprov.DefaultAPIVersion)
	},
		func(t *testing.T, in []byte, _ string) llm.Stream { return oaiprov.DecodeStream(bytes.NewReader(in)) }},
}

// crossGolden checks (or with -update writes) testdata/<dir>/<file> for
// each input file of srcDir matching pattern.
func crossGolden(t *testing.T, srcDir, pattern, dir string, fn func(t *testing.T, in []byte, file string) []byte) {
	files, err := filepath.Glob(filepath.Join("testdata", srcDir, pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs in %s/%s", srcDir, pattern)
	}
	for _, src := range files {
		base := filepath.Base(src)
		t.Run(base, func(t *testing.T) {
			raw, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			in, _, _ := strings.Cut(string(raw), sep)
			got := in + sep + string(fn(t, []byte(in), base))
			dst := filepath.Join("testdata", dir, base)
			if *update {
				_ = os.MkdirAll(filepath.Dir(dst), 0o755)
				if err := os.WriteFile(dst, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(dst)
			if err != nil {
				t.Fatalf("%s: %v (run with -update to create it)", dst, err)
			}
			if got != string(want) {
				t.Errorf("%s: output differs\n--- got:\n%s\n--- want:\n%s", dst, got, want)
			}
		})
	}
}

// TestAnthropicDoorToProvidersRequest: an Anthropic Messages request →
// canonical → each provider's upstream body (or the 400 it refuses with).
func TestAnthropicDoorToProvidersRequest(t *testing.T) {
	for _, p := range anthropicDoorTargets {
		t.Run(p.name, func(t *testing.T) {
			crossGolden(t, "anthropic-openai", "request-*.txt", "anthropic-"+p.name, func(t *testing.T, in []byte, _ string) []byte {
				req, err := antdoor.DecodeMessagesRequest(in)
				if err != nil {
					return antDoorErrText(err)
				}
				req.UpstreamModel = "upstream-" + req.Model
				body, err := p.encode(req)
				if err != nil {
					return antDoorErrText(err)
				}
				return indent(t, body)
			})
		})
	}
}

// TestProvidersToAnthropicDoorStream: each provider's upstream stream →
// canonical events → Anthropic named SSE events.
func TestProvidersToAnthropicDoorStream(t *testing.T) {
	for _, p := range anthropicDoorTargets {
		t.Run(p.name, func(t *testing.T) {
			crossGolden(t, "openai-"+p.name, "stream-*.txt", "anthropic-"+p.name, func(t *testing.T, in []byte, file string) []byte {
				st := p.stream(t, in, file)
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
		})
	}
}
