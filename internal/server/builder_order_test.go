package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/responses"
)

// checkStreamInvariants runs a scripted upstream stream and checks stream invariants:
// no event for an output item after its output_item.done; done events carry
// what the response (final event and stored GET) has; content_part.done in
// content_index order with each part closed before the next opens.
func checkStreamInvariants(t *testing.T, d []string) []responses.ResponseStreamEventUnion {
	t.Helper()
	c := startFake(t, fakeUp(t, d, ""))
	st := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "fake", Input: textInput("go"),
		Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "f", Parameters: map[string]any{"type": "object"}}}}})
	evs := drain(t, st, 0)
	doneAt := map[int64]int{}
	var final responses.Response
	doneArgs := map[string]string{}
	openPart := map[int64]int64{} // output index -> open content index (-1 none)
	for i, ev := range evs {
		t.Logf("%d %s oi=%d ci=%d %s", ev.SequenceNumber, ev.Type, ev.OutputIndex, ev.ContentIndex, strings.TrimSpace(ev.Delta+ev.Arguments))
		if ev.Type == "response.completed" || ev.Type == "response.incomplete" {
			final = ev.Response
			continue
		}
		if !strings.HasPrefix(ev.Type, "response.") || ev.Type == "response.created" || ev.Type == "response.in_progress" {
			continue
		}
		if j, ok := doneAt[ev.OutputIndex]; ok {
			t.Errorf("event %d %s for output_index %d comes after that item's output_item.done (event %d)", i, ev.Type, ev.OutputIndex, j)
		}
		switch ev.Type {
		case "response.output_item.done":
			doneAt[ev.OutputIndex] = i
			if ev.Item.Type == "function_call" {
				doneArgs[ev.Item.ID] = ev.Item.Arguments.OfString
			}
		case "response.content_part.added":
			if p, ok := openPart[ev.OutputIndex]; ok && p >= 0 {
				t.Errorf("event %d: content part %d added while part %d of output %d is still open", i, ev.ContentIndex, p, ev.OutputIndex)
			}
			openPart[ev.OutputIndex] = ev.ContentIndex
		case "response.content_part.done":
			if openPart[ev.OutputIndex] != ev.ContentIndex {
				t.Errorf("event %d: content_part.done for part %d; the open (last added) part is %d", i, ev.ContentIndex, openPart[ev.OutputIndex])
			}
			openPart[ev.OutputIndex] = -1
		}
	}
	for _, it := range final.Output {
		if it.Type == "function_call" && it.Arguments.OfString != doneArgs[it.ID] {
			t.Errorf("%s: output_item.done streamed arguments %q; the final response has %q", it.ID, doneArgs[it.ID], it.Arguments.OfString)
		}
	}
	got, err := c.Responses.Get(context.Background(), final.ID, responses.ResponseGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range got.Output {
		if it.Type == "function_call" && it.Arguments.OfString != doneArgs[it.ID] {
			t.Errorf("%s: output_item.done streamed arguments %q; stored (GET) has %q", it.ID, doneArgs[it.ID], it.Arguments.OfString)
		}
		if it.Status != "completed" {
			t.Errorf("%s %s status %q", it.Type, it.ID, it.Status)
		}
	}
	return evs
}

// A tool call's argument chunk after content text of the same step.
func TestStreamToolArgsAfterText(t *testing.T) {
	checkStreamInvariants(t, []string{
		`{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"content":"ok"},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{},"finish_reason":"tool_calls"}`,
	})
}

// Reasoning in the middle of two parallel calls.
func TestStreamReasoningBetweenParallelCalls(t *testing.T) {
	checkStreamInvariants(t, []string{
		`{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"f","arguments":"{\"x\":"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"reasoning_content":"hmm"},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"2}"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{},"finish_reason":"tool_calls"}`,
	})
}

// A refusal then answer text in one message.
func TestStreamRefusalThenText(t *testing.T) {
	checkStreamInvariants(t, []string{
		`{"index":0,"delta":{"role":"assistant","refusal":"No. "},"finish_reason":null}`,
		`{"index":0,"delta":{"content":"But here is why."},"finish_reason":null}`,
		`{"index":0,"delta":{},"finish_reason":"stop"}`,
	})
}
