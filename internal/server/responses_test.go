package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	respdoor "github.com/causeway-ai/causeway/internal/frontdoor/responses"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// respEnv is a Causeway with a key for alice and an SDK client using it.
type respEnv struct {
	e   *servertest.Env
	c   openai.Client
	key string
}

func startResponses(t *testing.T, kind string) respEnv {
	t.Helper()
	e := servertest.Start(t, servertest.Options{Store: kind})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	return respEnv{e: e, c: newClient(e.URL, key), key: key}
}

func textInput(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: openai.String(s)}
}

func oaiStatus(err error) int {
	if apiErr, ok := errors.AsType[*openai.Error](err); ok {
		return apiErr.StatusCode
	}
	return 0
}

func oaiMessage(err error) string {
	if apiErr, ok := errors.AsType[*openai.Error](err); ok {
		return apiErr.Message
	}
	return ""
}

func forStores(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

func TestResponsesWhole(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{
			Model:    "sim-openai",
			Input:    textInput("Hello there"),
			Metadata: shared.Metadata{"trace": "t1"},
		})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if !strings.HasPrefix(resp.ID, "resp_") || resp.Object != "response" || resp.Status != "completed" || resp.Model != "sim-openai" {
			t.Errorf("response = id %q object %q status %q model %q; want resp_…, response, completed, sim-openai", resp.ID, resp.Object, resp.Status, resp.Model)
		}
		if resp.OutputText() == "" || len(resp.Output) != 1 || resp.Output[0].Type != "message" || !strings.HasPrefix(resp.Output[0].ID, "msg_") {
			t.Errorf("output = %+v, want one message with text", resp.Output)
		}
		if resp.Usage.InputTokens == 0 || resp.Usage.OutputTokens == 0 || resp.Usage.TotalTokens != resp.Usage.InputTokens+resp.Usage.OutputTokens {
			t.Errorf("usage = %+v, want input, output and their total", resp.Usage)
		}
		if resp.Metadata["trace"] != "t1" || resp.Truncation != "disabled" || !strings.Contains(resp.RawJSON(), `"store":true`) {
			t.Errorf("echo: metadata %v truncation %q, store in %s", resp.Metadata, resp.Truncation, resp.RawJSON())
		}
		got, err := env.c.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{})
		if err != nil || got.OutputText() != resp.OutputText() || got.ID != resp.ID {
			t.Errorf("GET = %v, %v; want the same response", got, err)
		}
		page, err := env.c.Responses.InputItems.List(ctx, resp.ID, responses.InputItemListParams{})
		if err != nil || len(page.Data) != 1 || page.Data[0].Type != "message" || page.Data[0].Role != "user" {
			t.Fatalf("input items = %+v, %v; want the user message", page, err)
		}
		short, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Talk a lot"), MaxOutputTokens: openai.Int(16)})
		if err != nil || short.Status != "incomplete" || short.IncompleteDetails.Reason != "max_output_tokens" || short.Usage.OutputTokens != 16 {
			t.Errorf("max_output_tokens 16: %v, %v; want incomplete for max_output_tokens", short, err)
		}
		// Metered like any model call.
		servertest.WaitFor(t, "usage recorded", func() bool {
			u := env.e.Usage(t, "")
			return u.Requests == 2 && u.InputTokens == resp.Usage.InputTokens+short.Usage.InputTokens &&
				u.OutputTokens == resp.Usage.OutputTokens+short.Usage.OutputTokens
		})
	})
}

func TestResponsesStream(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	st := env.c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Stream to me")})
	var types []string
	var text strings.Builder
	seq := int64(-1)
	var final responses.Response
	for st.Next() {
		ev := st.Current()
		if ev.SequenceNumber <= seq {
			t.Errorf("event %s has sequence_number %d after %d", ev.Type, ev.SequenceNumber, seq)
		}
		seq = ev.SequenceNumber
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			final = ev.Response
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(types) < 9 || seq != int64(len(types)-1) {
		t.Fatalf("events = %v (last sequence %d), want the full sequence from 0", types, seq)
	}
	head := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta"}
	tail := []string{"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
	if fmt.Sprint(types[:5]) != fmt.Sprint(head) || fmt.Sprint(types[len(types)-4:]) != fmt.Sprint(tail) {
		t.Errorf("events = %v, want %v … %v", types, head, tail)
	}
	if final.Status != "completed" || final.OutputText() == "" || final.OutputText() != text.String() {
		t.Errorf("completed response text %q (status %s), deltas %q: want equal and non-empty", final.OutputText(), final.Status, text.String())
	}
	// The stored response replays as the same stream.
	rp := env.c.Responses.GetStreaming(ctx, final.ID, responses.ResponseGetParams{StartingAfter: openai.Int(1)})
	var replayed []string
	for rp.Next() {
		replayed = append(replayed, rp.Current().Type)
	}
	if err := rp.Err(); err != nil || fmt.Sprint(replayed) != fmt.Sprint(types[2:]) {
		t.Errorf("replay after 1 = %v, %v; want %v", replayed, err, types[2:])
	}
}

func TestResponsesChain(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		first, err := env.c.Responses.New(ctx, responses.ResponseNewParams{
			Model: "sim-openai", Input: textInput("Remember the word pineapple"),
			Instructions: openai.String(strings.Repeat("Be very thorough and precise. ", 40)),
		})
		if err != nil {
			t.Fatalf("first: %v", err)
		}
		second, err := env.c.Responses.New(ctx, responses.ResponseNewParams{
			Model: "sim-openai", Input: textInput("What was the word?"), PreviousResponseID: openai.String(first.ID),
		})
		if err != nil {
			t.Fatalf("second: %v", err)
		}
		if second.PreviousResponseID != first.ID {
			t.Errorf("previous_response_id = %q, want %q", second.PreviousResponseID, first.ID)
		}
		// The second prompt holds the first turn (more than its own short
		// input) but not the first turn's instructions (~200 words).
		alone, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("What was the word?")})
		if err != nil {
			t.Fatalf("alone: %v", err)
		}
		if second.Usage.InputTokens <= alone.Usage.InputTokens {
			t.Errorf("chained input tokens %d, alone %d: want the first turn included", second.Usage.InputTokens, alone.Usage.InputTokens)
		}
		if second.Usage.InputTokens >= first.Usage.InputTokens {
			t.Errorf("chained input tokens %d ≥ first turn's %d: instructions were carried over", second.Usage.InputTokens, first.Usage.InputTokens)
		}
		// An item of the first turn can be referenced by id.
		ref := responses.ResponseInputItemUnionParam{OfItemReference: &responses.ResponseInputItemItemReferenceParam{ID: first.Output[0].ID}}
		third, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai",
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{ref, responses.ResponseInputItemParamOfMessage("What was the word?", responses.EasyInputMessageRoleUser)}}})
		if err != nil || third.Usage.InputTokens <= alone.Usage.InputTokens {
			t.Errorf("item_reference: %v, %v; want the referenced item in the prompt (more than %d input tokens)", third, err, alone.Usage.InputTokens)
		}
		if _, err := env.c.Responses.New(ctx, responses.ResponseNewParams{
			Model: "sim-openai", Input: textInput("x"), PreviousResponseID: openai.String("resp_nope"),
		}); oaiStatus(err) != 404 {
			t.Errorf("unknown previous_response_id: %v, want 404", err)
		}
	})
}

func TestResponsesStoreFalse(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("forget me"), Store: openai.Bool(false)})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !strings.Contains(resp.RawJSON(), `"store":false`) {
		t.Errorf("response %s, want store false", resp.RawJSON())
	}
	if _, err := env.c.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{}); oaiStatus(err) != 404 {
		t.Errorf("GET of a store:false response: %v, want 404", err)
	}
}

var weatherParams = map[string]any{
	"type":       "object",
	"properties": map[string]any{"city": map[string]any{"type": "string"}},
	"required":   []string{"city"},
}

func TestResponsesFunctionTools(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		tools := []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", weatherParams, false)}
		first, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Weather in Paris?"), Tools: tools})
		if err != nil {
			t.Fatalf("first: %v", err)
		}
		if len(first.Output) != 1 || first.Output[0].Type != "function_call" {
			t.Fatalf("output = %+v, want one function_call", first.Output)
		}
		fc := first.Output[0].AsFunctionCall()
		if fc.Name != "get_weather" || fc.CallID == "" || !strings.HasPrefix(fc.ID, "fc_") || !json.Valid([]byte(fc.Arguments)) || fc.Status != "completed" {
			t.Errorf("function call = %+v", fc)
		}
		if len(first.Tools) != 1 || first.Tools[0].Name != "get_weather" {
			t.Errorf("tools echo = %+v", first.Tools)
		}

		// Continuing without the output is refused, as OpenAI does.
		_, err = env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("and?"),
			PreviousResponseID: openai.String(first.ID), Tools: tools})
		if oaiStatus(err) != 400 || oaiMessage(err) != "No tool output found for function call "+fc.CallID+"." {
			t.Errorf("continue without output: %v, want 400 No tool output found", err)
		}
		// An output for a call that never happened is refused.
		out := responses.ResponseInputItemParamOfFunctionCallOutput("sunny")
		out.OfFunctionCallOutput.CallID = openai.String("call_unknown")
		_, err = env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai",
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out}}})
		if oaiStatus(err) != 400 || oaiMessage(err) != "No tool call found for function call output with call_id call_unknown." {
			t.Errorf("orphan output: %v, want 400 No tool call found", err)
		}

		out = responses.ResponseInputItemParamOfFunctionCallOutput("sunny, 21C")
		out.OfFunctionCallOutput.CallID = openai.String(fc.CallID)
		second, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Tools: tools,
			PreviousResponseID: openai.String(first.ID),
			Input:              responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out}}})
		if err != nil {
			t.Fatalf("second: %v", err)
		}
		if got := second.OutputText(); !strings.Contains(got, "The tool returned: sunny, 21C") {
			t.Errorf("answer = %q, want the tool result echoed", got)
		}
	})
}

func TestResponsesStreamFunctionCall(t *testing.T) {
	env := startResponses(t, "sqlite")
	st := env.c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Weather in Oslo?"),
		Tools: []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", weatherParams, false)}})
	var types []string
	var args strings.Builder
	var done string
	for st.Next() {
		ev := st.Current()
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.function_call_arguments.delta":
			args.WriteString(ev.Delta)
		case "response.function_call_arguments.done":
			done = ev.Arguments
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.function_call_arguments.delta"}
	if len(types) < 7 || fmt.Sprint(types[:4]) != fmt.Sprint(want) ||
		fmt.Sprint(types[len(types)-3:]) != "[response.function_call_arguments.done response.output_item.done response.completed]" {
		t.Errorf("events = %v", types)
	}
	if done == "" || done != args.String() || !json.Valid([]byte(done)) {
		t.Errorf("arguments done %q, deltas %q: want equal JSON", done, args.String())
	}
}

func TestResponsesBadRequests(t *testing.T) {
	env := startResponses(t, "sqlite")
	long := strings.Repeat("k", 65)
	many := map[string]string{}
	for i := range 17 {
		many[fmt.Sprint("k", i)] = "v"
	}
	manyJSON, _ := json.Marshal(many)
	tests := []struct{ name, body, want string }{
		{"17 metadata pairs", `{"model":"sim-openai","input":"x","metadata":` + string(manyJSON) + `}`, "too many properties"},
		{"long metadata key", `{"model":"sim-openai","input":"x","metadata":{"` + long + `":"v"}}`, "key"},
		{"long metadata value", `{"model":"sim-openai","input":"x","metadata":{"k":"` + strings.Repeat("v", 513) + `"}}`, "string too long"},
		{"conversation and previous", `{"model":"sim-openai","input":"x","conversation":"conv_1","previous_response_id":"resp_1"}`, "Mutually exclusive"},
		{"built-in tool", `{"model":"sim-openai","input":"x","tools":[{"type":"web_search"}]}`, "not supported yet"},
		{"no model", `{"input":"x"}`, "model"},
		{"bad json", `{"model":`, "parse the JSON"},
	}
	for _, tc := range tests {
		status, _, b := env.e.Post(t, env.key, "/v1/responses", tc.body)
		var eb struct {
			Error struct{ Message, Type string } `json:"error"`
		}
		_ = json.Unmarshal(b, &eb)
		if status != 400 || eb.Error.Type != "invalid_request_error" || !strings.Contains(eb.Error.Message, tc.want) {
			t.Errorf("%s: %d %s, want 400 invalid_request_error mentioning %q", tc.name, status, b, tc.want)
		}
	}
	if status, _, _ := env.e.Post(t, "", "/v1/responses", `{"model":"sim-openai","input":"x"}`); status != 401 {
		t.Errorf("no key: %d, want 401", status)
	}
}

func TestConversationsAPI(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		conv, err := env.c.Conversations.New(ctx, conversations.ConversationNewParams{
			Items:    []responses.ResponseInputItemUnionParam{responses.ResponseInputItemParamOfMessage("You are in a conversation.", responses.EasyInputMessageRoleDeveloper)},
			Metadata: shared.Metadata{"topic": "demo"},
		})
		if err != nil {
			t.Fatalf("create conversation: %v", err)
		}
		if !strings.HasPrefix(conv.ID, "conv_") || conv.Object != "conversation" {
			t.Errorf("conversation = %+v", conv)
		}
		ref := responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}
		r1, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("first question"), Conversation: ref})
		if err != nil {
			t.Fatalf("response 1: %v", err)
		}
		r2, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("second question"),
			Conversation: responses.ResponseNewParamsConversationUnion{OfConversationObject: &responses.ResponseConversationParam{ID: conv.ID}}})
		if err != nil {
			t.Fatalf("response 2: %v", err)
		}
		if r2.Usage.InputTokens <= r1.Usage.InputTokens {
			t.Errorf("second response input tokens %d ≤ first's %d: conversation items not prepended", r2.Usage.InputTokens, r1.Usage.InputTokens)
		}
		asc, err := env.c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{Order: conversations.ItemListParamsOrderAsc})
		if err != nil {
			t.Fatalf("list items: %v", err)
		}
		var roles []string
		for _, it := range asc.Data {
			roles = append(roles, it.Role)
		}
		if fmt.Sprint(roles) != "[developer user assistant user assistant]" {
			t.Errorf("items roles = %v, want developer, then user/assistant twice", roles)
		}
		if asc.Data[4].ID != r2.Output[0].ID {
			t.Errorf("last item %s, want r2's output %s", asc.Data[4].ID, r2.Output[0].ID)
		}
		page, err := env.c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{Limit: openai.Int(2)})
		if err != nil || len(page.Data) != 2 || !page.HasMore || page.Data[0].ID != asc.Data[4].ID {
			t.Errorf("desc page of 2 = %+v, %v; want the newest two and has_more", page, err)
		}
		next, err := env.c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{Limit: openai.Int(2), After: openai.String(page.Data[1].ID)})
		if err != nil || len(next.Data) != 2 || next.Data[0].ID != asc.Data[2].ID {
			t.Errorf("next page = %+v, %v", next, err)
		}
		added, err := env.c.Conversations.Items.New(ctx, conv.ID, conversations.ItemNewParams{
			Items: []responses.ResponseInputItemUnionParam{responses.ResponseInputItemParamOfMessage("a note", responses.EasyInputMessageRoleUser)}})
		if err != nil || len(added.Data) != 1 {
			t.Fatalf("add items = %+v, %v", added, err)
		}
		one, err := env.c.Conversations.Items.Get(ctx, conv.ID, added.Data[0].ID, conversations.ItemGetParams{})
		if err != nil || one.ID != added.Data[0].ID {
			t.Errorf("get item = %+v, %v", one, err)
		}
		if _, err := env.c.Conversations.Items.Delete(ctx, conv.ID, added.Data[0].ID); err != nil {
			t.Errorf("delete item: %v", err)
		}
		if _, err := env.c.Conversations.Items.Get(ctx, conv.ID, added.Data[0].ID, conversations.ItemGetParams{}); oaiStatus(err) != 404 {
			t.Errorf("deleted item: %v, want 404", err)
		}
		upd, err := env.c.Conversations.Update(ctx, conv.ID, conversations.ConversationUpdateParams{Metadata: shared.Metadata{"topic": "changed"}})
		if err != nil || fmt.Sprint(upd.Metadata) != "map[topic:changed]" {
			t.Errorf("update = %+v, %v", upd, err)
		}
		del, err := env.c.Conversations.Delete(ctx, conv.ID)
		if err != nil || !del.Deleted || del.ID != conv.ID {
			t.Errorf("delete = %+v, %v", del, err)
		}
		if _, err := env.c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{}); oaiStatus(err) != 404 {
			t.Errorf("items of a deleted conversation: %v, want 404", err)
		}
		if _, err := env.c.Conversations.Items.Get(ctx, conv.ID, asc.Data[1].ID, conversations.ItemGetParams{}); oaiStatus(err) != 404 {
			t.Errorf("item of a deleted conversation: %v, want 404", err)
		}
		// The responses made in the conversation went with it, input
		// items and all (TestDeleteConversationCascade).
		if err := env.c.Responses.Delete(ctx, r1.ID); oaiStatus(err) != 404 {
			t.Errorf("delete a response of the deleted conversation: %v, want 404", err)
		}
		if _, err := env.c.Responses.InputItems.List(ctx, r1.ID, responses.InputItemListParams{}); oaiStatus(err) != 404 {
			t.Errorf("input items of a deleted response: %v, want 404", err)
		}
	})
}

func TestResponsesDeleteBody(t *testing.T) {
	env := startResponses(t, "sqlite")
	resp, err := env.c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "sim-openai", Input: textInput("hi")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, env.e.URL+"/v1/responses/"+resp.ID, nil)
	req.Header.Set("Authorization", "Bearer "+env.key)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(hr.Body)
	hr.Body.Close()
	want := fmt.Sprintf(`{"id":%q,"object":"response.deleted","deleted":true}`, resp.ID)
	if hr.StatusCode != 200 || string(b) != want {
		t.Errorf("DELETE = %d %s, want 200 %s", hr.StatusCode, b, want)
	}
}

func TestResponsesCrossPrincipal(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("mine")})
		if err != nil {
			t.Fatal(err)
		}
		conv, err := env.c.Conversations.New(ctx, conversations.ConversationNewParams{
			Items: []responses.ResponseInputItemUnionParam{responses.ResponseInputItemParamOfMessage("secret", responses.EasyInputMessageRoleUser)}})
		if err != nil {
			t.Fatal(err)
		}
		items, err := env.c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{})
		if err != nil || len(items.Data) != 1 {
			t.Fatalf("items = %+v, %v", items, err)
		}
		_, bobKey := env.e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
		var other server.KeyView
		if st := env.e.Admin(t, http.MethodPost, "/admin/v1/keys?tenant=other", server.KeyRequest{Name: "alice elsewhere", User: "alice"}, &other); st != 201 {
			t.Fatalf("create key in tenant other: %d", st)
		}
		for name, key := range map[string]string{"another user": bobKey, "another tenant": other.Key} {
			c := openai.NewClient(option.WithBaseURL(env.e.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
			checks := map[string]error{}
			_, checks["GET response"] = c.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{})
			_, checks["input_items"] = c.Responses.InputItems.List(ctx, resp.ID, responses.InputItemListParams{})
			checks["DELETE response"] = c.Responses.Delete(ctx, resp.ID)
			_, checks["GET conversation"] = c.Conversations.Get(ctx, conv.ID)
			_, checks["items"] = c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{})
			_, checks["item"] = c.Conversations.Items.Get(ctx, conv.ID, items.Data[0].ID, conversations.ItemGetParams{})
			_, checks["previous_response_id"] = c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("x"), PreviousResponseID: openai.String(resp.ID)})
			_, checks["conversation"] = c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("x"),
				Conversation: responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}})
			_, checks["cancel"] = c.Responses.Cancel(ctx, resp.ID)
			st := c.Responses.GetStreaming(ctx, resp.ID, responses.ResponseGetParams{})
			st.Next()
			checks["stream replay"] = st.Err()
			var cost map[string]any
			checks["response cost"] = c.Get(ctx, "responses/"+resp.ID+"/cost", nil, &cost)
			checks["conversation cost"] = c.Get(ctx, "conversations/"+conv.ID+"/cost", nil, &cost)
			checks["export"] = c.Get(ctx, "conversations/"+conv.ID+"/export", nil, nil)
			_, checks["input_tokens"] = c.Responses.InputTokens.Count(ctx, responses.InputTokenCountParams{
				Model: openai.String("sim-openai"), PreviousResponseID: openai.String(resp.ID)})
			_, checks["compact"] = c.Responses.Compact(ctx, responses.ResponseCompactParams{Model: "sim-openai", PreviousResponseID: openai.String(resp.ID)})
			_, checks["update conversation"] = c.Conversations.Update(ctx, conv.ID, conversations.ConversationUpdateParams{Metadata: map[string]string{"x": "y"}})
			_, checks["DELETE item"] = c.Conversations.Items.Delete(ctx, conv.ID, items.Data[0].ID)
			_, checks["DELETE conversation"] = c.Conversations.Delete(ctx, conv.ID)
			for what, err := range checks {
				if oaiStatus(err) != 404 {
					t.Errorf("%s: %s: %v, want 404", name, what, err)
				}
			}
		}
		// Still there for its owner, untouched.
		if _, err := env.c.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{}); err != nil {
			t.Errorf("owner GET after others tried: %v", err)
		}
		if got, err := env.c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{}); err != nil || len(got.Data) != 1 {
			t.Errorf("owner's conversation after others tried: %v, %v", got, err)
		}
	})
}

func TestResponsesStreamFailure(t *testing.T) {
	env := startResponses(t, "sqlite")
	fault := `{"model":"gpt-4.1-mini","cut_after_chunks":4,"count":1}`
	hr, err := http.Post(env.e.SimURL+"/sim/faults", "application/json", strings.NewReader(fault))
	if err != nil || hr.StatusCode != 201 {
		t.Fatalf("add fault: %v %v", hr, err)
	}
	hr.Body.Close()
	ctx := context.Background()
	st := env.c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Cut me off")})
	var last, prev responses.ResponseStreamEventUnion
	n := 0
	for st.Next() {
		prev, last = last, st.Current()
		n++
	}
	if prev.Type != "error" || prev.Message == "" || prev.Code != "server_error" {
		t.Errorf("event before the last = %s %q %q, want an error event", prev.Type, prev.Code, prev.Message)
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if last.Type != "response.failed" || last.Response.Status != "failed" || last.Response.Error.Message == "" {
		t.Fatalf("last of %d events = %s (status %s, error %+v), want response.failed with an error", n, last.Type, last.Response.Status, last.Response.Error)
	}
	got, err := env.c.Responses.Get(ctx, last.Response.ID, responses.ResponseGetParams{})
	if err != nil || got.Status != "failed" {
		t.Errorf("stored failed response = %v, %v; want status failed", got, err)
	}
}

// TestResponsesRoutesRequireAuth checks no route of the door answers
// without a key.
func TestResponsesRoutesRequireAuth(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	for _, r := range respdoor.Routes() {
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{id}", "x", "{item_id}", "y").Replace(path)
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(`{"model":"sim-openai","input":"hi"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s without a key: status %d, want 401", r, resp.StatusCode)
		}
	}
}
