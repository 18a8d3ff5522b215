package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/tool"
)

// The Go snippets of docs/runtime.md run here, verbatim, against a whole
// Causeway: TestDocsSnippetsRun runs them and TestDocsSnippetsAreHere
// fails when a snippet of the doc is not (any more) in this file.

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// codeLines is code as its non-blank lines without their indentation.
func codeLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func containsRun(hay, needle []string) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		j := 0
		for j < len(needle) && hay[i+j] == needle[j] {
			j++
		}
		if j == len(needle) {
			return true
		}
	}
	return false
}

func TestDocsSnippetsAreHere(t *testing.T) {
	doc, err := os.ReadFile("../../docs/runtime.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("docs_test.go")
	if err != nil {
		t.Fatal(err)
	}
	here := codeLines(string(self))
	blocks := goBlock.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 8 {
		t.Fatalf("found %d Go snippets in docs/runtime.md, want at least 8", len(blocks))
	}
	for i, b := range blocks {
		if !containsRun(here, codeLines(b[1])) {
			t.Errorf("Go snippet %d of docs/runtime.md is not run by docs_test.go:\n%s", i+1, b[1])
		}
	}
}

// verified is the check docs/runtime.md gives a tool server for the
// signed identity header.
func verified(r *http.Request, secret []byte) bool {
	v := strings.Split(r.Header.Get("X-Causeway-Identity"), ".") // "v1", unix time, hex MAC
	if len(v) != 3 || v[0] != "v1" {
		return false
	}
	ts, err := strconv.ParseInt(v[1], 10, 64)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v1\n" + v[1] + "\n" + r.Header.Get("X-Causeway-Tenant") + "\n" + r.Header.Get("X-Causeway-User")))
	return err == nil && time.Since(time.Unix(ts, 0)).Abs() < 5*time.Minute &&
		hmac.Equal([]byte(v[2]), []byte(hex.EncodeToString(m.Sum(nil))))
}

// TestDocsSnippetsRun runs each Go snippet of docs/runtime.md.
func TestDocsSnippetsRun(t *testing.T) {
	tt := startToolTarget(t)
	e := servertest.Start(t, servertest.Options{Config: toolsConfig(tt, 0, "") + "  require_approval: [weather]\n"})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "docs", User: "docs", Tools: []string{"weather"}})
	base := e.URL + "/v1/"
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	t.Run("chain", func(t *testing.T) {
		// base is the gateway's "/v1/" URL (the demo's: "http://127.0.0.1:8080/v1/"),
		// key a virtual key (the demo prints one).
		client := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey(key))
		first, err := client.Responses.New(ctx, responses.ResponseNewParams{
			Model: "sim-openai",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello, Causeway!")},
		})
		// ...
		second, err := client.Responses.New(ctx, responses.ResponseNewParams{
			Model:              "sim-openai",
			Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("And again?")},
			PreviousResponseID: openai.String(first.ID),
		})
		fmt.Println(second.OutputText())
		check("second", err)
		if second.OutputText() == "" || second.PreviousResponseID != first.ID {
			t.Errorf("second = %s", second.RawJSON())
		}
	})

	client := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey(key))
	// prev is a chain long enough to compact: three turns of ~30k tokens.
	var prev string
	for i := range 3 {
		p := responses.ResponseNewParams{Model: "sim-openai",
			Input: textInput(fmt.Sprintf("turn %d: ", i) + strings.Repeat("The bridge spans the bay. ", 1800))}
		if prev != "" {
			p.PreviousResponseID = openai.String(prev)
		}
		r, err := client.Responses.New(ctx, p)
		check("chain for compaction", err)
		prev = r.ID
	}

	t.Run("context_management", func(t *testing.T) {
		resp, err := client.Responses.New(ctx, responses.ResponseNewParams{
			Model:              "sim-openai",
			Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("And what about ferries?")},
			PreviousResponseID: openai.String(prev),
			ContextManagement: []responses.ResponseNewParamsContextManagement{
				{Type: "compaction", CompactThreshold: openai.Int(20000)},
			},
		})
		// resp.Output[0].Type == "compaction" when the context was compacted.
		check("compacting response", err)
		if len(resp.Output) == 0 || resp.Output[0].Type != "compaction" {
			t.Errorf("output = %v, want a compaction first", itemTypes(resp.Output))
		}
	})

	t.Run("compact", func(t *testing.T) {
		out, err := client.Responses.Compact(ctx, responses.ResponseCompactParams{
			Model:              "sim-openai",
			PreviousResponseID: openai.String(prev),
		})
		// Continue: send out.Output (or only its last item, the compaction) plus the new message as input.
		check("compact", err)
		if n := len(out.Output); n == 0 || out.Output[n-1].Type != "compaction" {
			t.Errorf("compact output = %s, want it to end with a compaction", out.RawJSON())
		}
	})

	t.Run("background", func(t *testing.T) {
		r, _ := client.Responses.New(ctx, responses.ResponseNewParams{
			Model:      "sim-openai",
			Input:      responses.ResponseNewParamsInputUnion{OfString: openai.String("Write the report")},
			Background: openai.Bool(true),
		})
		// r.Status == "queued"
		stream := client.Responses.GetStreaming(ctx, r.ID, responses.ResponseGetParams{})
		for stream.Next() {
			ev := stream.Current() // response.created (queued), response.queued, response.in_progress, … response.completed
			_ = ev
		}
		done, _ := client.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
		fmt.Println(done.Status, done.OutputText())
		if r.Status != "queued" || done.Status != "completed" || done.OutputText() == "" {
			t.Errorf("background: %s then %s %q", r.Status, done.Status, done.OutputText())
		}
	})

	t.Run("approval", func(t *testing.T) {
		first, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("What is the weather?")},
			serverTools("weather"))
		check("ask", err)
		next, _ := client.Responses.New(ctx, responses.ResponseNewParams{
			Model:              "sim-openai",
			PreviousResponseID: openai.String(first.ID),
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: []responses.ResponseInputItemUnionParam{
				responses.ResponseInputItemParamOfMcpApprovalResponse(first.Output[1].ID, true),
			}},
		}, option.WithJSONSet("tools", []map[string]string{{"type": "causeway", "name": "weather"}}))
		if next == nil || len(next.Output) == 0 || decodeItem(t, next.Output[0]).Output != "sunny in Paris" {
			t.Fatalf("after approval: %v", next)
		}
	})

	t.Run("identity", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPost, "http://tool.example/", nil)
		id := tool.Identity{Tenant: "acme", User: "ada"}
		id.SetHeaders(r.Header, "s3cret", time.Now())
		if !verified(r, []byte("s3cret")) {
			t.Error("the docs' check refuses a header the gateway signed")
		}
		if verified(r, []byte("other")) {
			t.Error("the docs' check accepts another secret")
		}
		r.Header.Set(tool.HeaderUser, "bob")
		if verified(r, []byte("s3cret")) {
			t.Error("the docs' check accepts a changed user")
		}
	})

	t.Run("input_tokens", func(t *testing.T) {
		first, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Hi")})
		check("first", err)
		n, err := client.Responses.InputTokens.Count(ctx, responses.InputTokenCountParams{
			Model:              openai.String("sim-openai"),
			Input:              responses.InputTokenCountParamsInputUnion{OfString: openai.String("Hello, world")},
			PreviousResponseID: openai.String(first.ID),
		})
		fmt.Println(n.InputTokens)
		check("count", err)
		if n.InputTokens < 5 {
			t.Errorf("input tokens = %d", n.InputTokens)
		}
	})

	t.Run("memories", func(t *testing.T) {
		var rec map[string]any
		err := client.Post(ctx, "memories", map[string]any{"text": "I am vegetarian.", "namespace": "prefs"}, &rec)
		var res map[string]any
		err = client.Post(ctx, "memories/search", map[string]any{"query": "what do I eat", "namespace": "prefs"}, &res)
		check("memories", err)
		if rec["object"] != "memory" || res["object"] != "list" {
			t.Errorf("memory %v, search %v", rec, res)
		}
	})
}
