package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// TestMCPToolThroughRuntime: a tool of a configured MCP server is offered
// to the model as "<server>__<tool>", run by the runtime over Streamable
// HTTP as the caller, and its output reaches the answer.
func TestMCPToolThroughRuntime(t *testing.T) {
	var got []string
	srv := mcp.NewServer(&mcp.Implementation{Name: "kb", Version: "1"}, nil)
	type in struct {
		Query string `json:"query"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "lookup", Description: "Looks a term up in the knowledge base."},
		func(_ context.Context, req *mcp.CallToolRequest, args in) (*mcp.CallToolResult, any, error) {
			got = append(got, string(req.Params.Arguments))
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "causeway is an AI access layer"}}}, nil, nil
		})
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	// Registered before the gateway's own cleanup, so it runs after it:
	// the gateway closes its MCP session first.
	t.Cleanup(hs.Close)
	yml := servertest.DefaultConfig + `
tools:
  mcp:
    - name: kb
      url: ` + hs.URL + `
`
	e := servertest.Start(t, servertest.Options{Config: yml})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice", Tools: []string{"kb__lookup"}})
	status, _, b := e.Post(t, key, "/v1/responses", `{"model":"sim-openai","input":"What is causeway?","tools":[{"type":"causeway","name":"kb__lookup"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	var resp struct {
		Output []struct {
			Type, Name, Output string
			Content            []struct{ Text string }
		}
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	var types []string
	var final string
	for _, it := range resp.Output {
		types = append(types, it.Type)
		for _, c := range it.Content {
			final += c.Text
		}
	}
	if strings.Join(types, ",") != "function_call,function_call_output,message" {
		t.Fatalf("output items %v, want the MCP call, its output and the answer", types)
	}
	if len(got) != 1 || !strings.Contains(final, "causeway is an AI access layer") {
		t.Fatalf("the MCP server got %v; the answer %q does not carry its output", got, final)
	}
	// A key without the tool in its allow-list cannot list it.
	_, other := e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
	if status, _, _ := e.Post(t, other, "/v1/responses", `{"model":"sim-openai","input":"x","tools":[{"type":"causeway","name":"kb__lookup"}]}`); status != 400 {
		t.Fatalf("a key without kb__lookup: status %d, want 400", status)
	}
}

// TestSandboxToolThroughRuntime: with the sandbox enabled, run_javascript
// is a server-side tool like any other: the model's code runs, and what it
// returned (here an error, since the simulator writes a word, not code)
// comes back to the model.
func TestSandboxToolThroughRuntime(t *testing.T) {
	yml := servertest.DefaultConfig + `
tools:
  sandbox: {enabled: true}
`
	e := servertest.Start(t, servertest.Options{Config: yml})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice", Tools: []string{"run_javascript"}})
	status, _, b := e.Post(t, key, "/v1/responses", `{"model":"sim-openai","input":"Compute something","tools":[{"type":"causeway","name":"run_javascript"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	if !strings.Contains(string(b), `"function_call_output"`) || !strings.Contains(string(b), "The tool returned: Error") {
		t.Fatalf("the sandbox's result did not come back to the model: %.600s", b)
	}
}
