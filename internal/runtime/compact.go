package runtime

// Compaction: the old turns of a long context are summarised, through a
// model alias chosen in the configuration (any provider), into one
// "compaction" item, OpenAI's wire shape for it. The item's
// encrypted_content is Causeway's own, and is NOT encrypted: it is the
// base64 of a small JSON document holding the summary and the turns kept
// verbatim, so the item stands for the whole context before it. A context
// therefore starts at its latest compaction item: what came before it is
// never sent to a model again.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
	"github.com/causeway-ai/causeway/internal/tokens"
)

// CompactionSettings is the configuration's compaction section as the
// runtime reads it (config.Compaction with its defaults applied).
type CompactionSettings struct {
	// Model is the alias that writes summaries; empty means the
	// request's own model.
	Model string
	// Threshold is the estimated input tokens above which a request with
	// context_management but no compact_threshold is compacted.
	Threshold int64
	// KeepRecentTurns is how many of the last user turns stay verbatim.
	KeepRecentTurns int
	// MaxSummaryTokens caps a summary's output tokens.
	MaxSummaryTokens int
	// Configured is true when the configuration has a compaction
	// section: truncation "auto" then compacts before dropping turns.
	Configured bool
}

// Defaults when the runtime has no CompactionSettings.
var defaultCompaction = CompactionSettings{Threshold: 100_000, KeepRecentTurns: 2, MaxSummaryTokens: 2048}

func (rt *Runtime) compactionSettings() CompactionSettings {
	var c *CompactionSettings
	if rt.Compaction != nil {
		c = rt.Compaction()
	}
	if c == nil {
		return defaultCompaction
	}
	s := *c
	if s.Threshold <= 0 {
		s.Threshold = defaultCompaction.Threshold
	}
	if s.KeepRecentTurns <= 0 {
		s.KeepRecentTurns = defaultCompaction.KeepRecentTurns
	}
	if s.MaxSummaryTokens <= 0 {
		s.MaxSummaryTokens = defaultCompaction.MaxSummaryTokens
	}
	return s
}

// CompactionMarker starts the system message a compaction item becomes
// in a model's context.
const CompactionMarker = "[causeway compaction] Summary of the earlier conversation: "

// compactionVersion is the version of the encrypted_content document.
const compactionVersion = 1

// compactionContent is what a compaction item's encrypted_content holds.
type compactionContent struct {
	V       int    `json:"v"`
	Summary string `json:"summary"`
	// Model is the alias that wrote the summary.
	Model string `json:"model"`
	// Covered are the ids of the items the summary replaces.
	Covered []string `json:"covered_item_ids"`
	// Kept are the items after the summarised ones, verbatim: the item
	// stands for its whole context.
	Kept []wire.Item `json:"kept,omitempty"`
}

func encodeCompaction(c *compactionContent) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// decodeCompaction reads a compaction item; one this gateway did not make
// is a 400.
func decodeCompaction(it wire.Item) (*compactionContent, error) {
	bad := func() error {
		e := invalid("input", "Invalid 'encrypted_content' of compaction item '"+it.ID+"': it was not made by this gateway.")
		return e.WithCode("invalid_encrypted_content")
	}
	b, err := base64.StdEncoding.DecodeString(it.EncryptedContent)
	if err != nil || it.EncryptedContent == "" {
		return nil, bad()
	}
	var c compactionContent
	if err := json.Unmarshal(b, &c); err != nil || c.V != compactionVersion {
		return nil, bad()
	}
	for _, k := range c.Kept {
		if k.Type == "compaction" {
			return nil, bad()
		}
	}
	return &c, nil
}

// fromLatestCompaction starts a context at its latest compaction item:
// the items before it are dropped, and the turns it kept verbatim follow
// it. A context without one is returned as it is.
func fromLatestCompaction(items []wire.Item) ([]wire.Item, error) {
	i := latestCompaction(items)
	if i < 0 {
		return items, nil
	}
	c, err := decodeCompaction(items[i])
	if err != nil {
		return nil, err
	}
	out := make([]wire.Item, 0, 1+len(c.Kept)+len(items)-i-1)
	out = append(out, items[i])
	out = append(out, c.Kept...)
	return append(out, items[i+1:]...), nil
}

func latestCompaction(items []wire.Item) int {
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].Type == "compaction" {
			return i
		}
	}
	return -1
}

// keepFrom returns where the verbatim part of a context begins when its
// last keep user turns are kept: the start of the keep-th last user turn
// (a user message and everything up to the next one), moved earlier when
// a function call before it has its output after it, so a call and its
// output are never separated. Reasoning items stay with their turn. 0
// means there is nothing before the kept turns to summarise.
func keepFrom(items []wire.Item, keep int) int {
	var starts []int
	for i, it := range items {
		if it.Type == "message" && it.Role == "user" {
			starts = append(starts, i)
		}
	}
	keep = max(keep, 1)
	if len(starts) <= keep {
		return 0
	}
	// k stays above 0: a split at the first user turn would summarise
	// only what precedes every turn, which is not worth a model call.
	for k := len(starts) - keep; k > 0; {
		split := starts[k]
		// earliest is the first call before split answered after it, or
		// not answered yet (waiting for a person's approval, say).
		earliest := -1
		callAt := map[string]int{}
		answered := map[string]bool{}
		for i, it := range items {
			switch it.Type {
			case "function_call":
				callAt[it.CallID] = i
			case "function_call_output":
				answered[it.CallID] = true
				if at, ok := callAt[it.CallID]; ok && at < split && i >= split && (earliest < 0 || at < earliest) {
					earliest = at
				}
			}
		}
		for id, at := range callAt {
			if !answered[id] && at < split && (earliest < 0 || at < earliest) {
				earliest = at
			}
		}
		if earliest < 0 {
			return split
		}
		for k > 0 && starts[k] > earliest {
			k--
		}
	}
	return 0
}

// compactRequested returns the compaction threshold of the request's
// context_management, and false when it asks for none.
func compactRequested(cp *CreateParams, def int64) (int64, bool, error) {
	var threshold int64
	found := false
	for i, cm := range cp.Req.ContextManagement {
		p := "context_management[" + itoa(i) + "]"
		if cm.Type != "compaction" {
			return 0, false, invalid(p+".type", "Invalid value: '"+cm.Type+"'. Supported values are: 'compaction'.").WithCode("invalid_value")
		}
		if found {
			return 0, false, invalid(p, "Invalid 'context_management': at most one 'compaction' entry.").WithCode("invalid_value")
		}
		found = true
		threshold = def
		if cm.CompactThreshold != nil {
			if *cm.CompactThreshold < 1 {
				return 0, false, invalid(p+".compact_threshold", "Invalid '"+p+".compact_threshold': integer below minimum value. Expected a value >= 1.").WithCode("integer_below_min_value")
			}
			threshold = *cm.CompactThreshold
		}
	}
	return threshold, found, nil
}

// compacted is a compaction made for a response: its item, and its model
// call's request id and usage.
type compacted struct {
	item      wire.Item
	requestID string
	usage     llm.Usage
	sawUsage  bool
	// nanoUSD is what the summarising call cost.
	nanoUSD int64
}

// cost is what the compaction cost, 0 for none.
func (c *compacted) cost() int64 {
	if c == nil {
		return 0
	}
	return c.nanoUSD
}

// compactContext applies compaction to a response's context. A
// compaction item in the request's input starts the context there (the
// history is dropped); then, when the request asks for compaction with
// context_management and the context is estimated above the threshold,
// the turns before the last keep_recent_turns user turns are summarised
// into a compaction item. It returns the context's history and input
// parts as the model must see them (the request's input is stored as
// given), and the compaction made, if any, which Create emits as the
// response's first output item.
func (rt *Runtime) compactContext(ctx context.Context, p *identity.Principal, cp *CreateParams, hist, input []wire.Item, count bool) ([]wire.Item, []wire.Item, *compacted, error) {
	if latestCompaction(input) >= 0 {
		var err error
		if input, err = fromLatestCompaction(input); err != nil {
			return nil, nil, nil, err
		}
		hist = nil
	}
	s := rt.compactionSettings()
	threshold, ok, err := compactRequested(cp, s.Threshold)
	if err != nil || !ok || count {
		return hist, input, nil, err
	}
	all := append(append([]wire.Item(nil), hist...), input...)
	_, waiting, err := rt.approvals(ctx, OwnerOf(p), hist, input)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkToolPairs(all, waiting); err != nil {
		return nil, nil, nil, err
	}
	req, err := request(cp, all, &toolset{})
	if err != nil {
		return nil, nil, nil, err
	}
	if n, err := tokens.Count(req); err != nil || n <= threshold {
		return hist, input, nil, nil
	}
	return rt.compactSplit(ctx, p, cp, hist, input, s)
}

// compactSplit summarises the context's turns before the kept ones,
// whatever its size; with nothing to summarise it changes nothing.
func (rt *Runtime) compactSplit(ctx context.Context, p *identity.Principal, cp *CreateParams, hist, input []wire.Item, s CompactionSettings) ([]wire.Item, []wire.Item, *compacted, error) {
	all := append(append([]wire.Item(nil), hist...), input...)
	split := keepFrom(all, s.KeepRecentTurns)
	if split <= 0 {
		return hist, input, nil, nil
	}
	c, err := rt.summarise(ctx, p, cp, all[:split], all[split:], s, "")
	if err != nil {
		return nil, nil, nil, err
	}
	if split <= len(hist) {
		return append([]wire.Item{c.item}, hist[split:]...), input, c, nil
	}
	return []wire.Item{c.item}, input[split-len(hist):], c, nil
}

// compactionRequestID names the compaction's model call in the ledger.
func compactionRequestID(rid string) string { return rid + "-compact" }

// withRequestID gives a model call its own request id, keeping the rest
// of the request's information.
func withRequestID(ctx context.Context, id string) (context.Context, string) {
	info := gateway.RequestInfo{}
	if cur := gateway.Info(ctx); cur != nil {
		info = *cur
	}
	info.ID = id
	return gateway.WithRequestInfo(ctx, &info), id
}

// summaryInstruction is the system prompt of a summarising call.
const summaryInstruction = `You compact conversations between a user and an AI assistant. ` +
	`Write a summary of the transcript below that lets the assistant continue the conversation without it. ` +
	`Keep: the user's goals and requests, facts, names, numbers and preferences they gave, decisions made, ` +
	`results of tool calls that still matter, questions still open and anything the assistant promised to do. ` +
	`Drop small talk and repetition. Write in the language of the conversation, as short paragraphs or bullet points, ` +
	`without a preamble. Do not answer the user: only summarise.`

// summarise makes one compaction item for the items old, kept verbatim
// with the items kept, through the configured model (or the request's
// own) as the principal, so the call is metered to them under the
// request id <request id>-compact.
func (rt *Runtime) summarise(ctx context.Context, p *identity.Principal, cp *CreateParams, old, kept []wire.Item, s CompactionSettings, extra string) (*compacted, error) {
	msgs, err := ToMessages(old)
	if err != nil {
		return nil, err
	}
	model := s.Model
	if model == "" {
		model = cp.Req.Model
	}
	instruction := summaryInstruction
	if extra != "" {
		instruction += "\n\nAdditional instructions for this summary: " + extra
	}
	req := &llm.Request{Model: model, MaxTokens: s.MaxSummaryTokens, Messages: []llm.Message{
		llm.TextMessage(llm.RoleSystem, instruction),
		llm.TextMessage(llm.RoleUser, "Transcript:\n\n"+transcript(msgs)),
	}}
	if cp.Req.SafetyIdentifier != nil {
		req.User = *cp.Req.SafetyIdentifier
	} else if cp.Req.User != nil {
		req.User = *cp.Req.User
	}
	cctx, rid := withRequestID(ctx, compactionRequestID(gateway.RequestID(ctx)))
	call, err := rt.GW.Chat(cctx, p, req)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	for {
		ev, err := call.Next()
		if errors.Is(err, io.EOF) {
			call.Finish(nil)
			break
		}
		if err != nil {
			call.Finish(nil)
			return nil, err
		}
		if ev.Type == llm.EventText {
			text.WriteString(ev.Text)
		}
	}
	summary := strings.TrimSpace(text.String())
	if summary == "" {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "The compaction model '" + model + "' returned no summary."}
	}
	c := &compactionContent{V: compactionVersion, Summary: summary, Model: model, Kept: kept, Covered: []string{}}
	for _, it := range old {
		if it.ID != "" {
			c.Covered = append(c.Covered, it.ID)
		}
	}
	enc, err := encodeCompaction(c)
	if err != nil {
		return nil, err
	}
	visible, _ := json.Marshal(map[string]any{"summary": summary, "model": model,
		"covered_items": len(old), "kept_items": len(kept)})
	out := &compacted{requestID: rid,
		item: wire.Item{ID: identity.NewID("cmp_"), Type: "compaction", EncryptedContent: enc, Causeway: visible}}
	out.usage, out.sawUsage = call.Usage()
	out.nanoUSD = call.Cost()
	return out, nil
}

// transcript renders canonical messages as plain text for the summariser,
// so that any provider takes it (tool calls without tool definitions are
// refused by some).
func transcript(msgs []llm.Message) string {
	var b strings.Builder
	for i := range msgs {
		m := &msgs[i]
		text := m.Text()
		switch m.Role {
		case llm.RoleTool:
			name := m.ToolName
			if name == "" {
				name = "a tool"
			}
			b.WriteString("Tool result (" + name + "): " + text + "\n\n")
			continue
		case llm.RoleSystem, llm.RoleDeveloper:
			if rest, ok := strings.CutPrefix(text, CompactionMarker); ok {
				b.WriteString("Summary of what came before: " + rest + "\n\n")
				continue
			}
		}
		if text != "" || m.Refusal != "" {
			b.WriteString(string(m.Role) + ": " + text + m.Refusal + "\n\n")
		}
		for _, tc := range m.ToolCalls {
			b.WriteString(string(m.Role) + " called tool " + tc.Name + " with " + tc.Arguments + "\n\n")
		}
	}
	return b.String()
}

// addCompaction puts a compaction made for the response as its first
// output item (streams: output_item.added and .done), adds the
// summarising call's usage to the response's, and lists its request id
// first. Create calls it after start and before the first step's
// events.
func (b *builder) addCompaction(c *compacted) error {
	if c == nil {
		return nil
	}
	b.resp.Output = append(b.resp.Output, c.item)
	idx := len(b.resp.Output) - 1
	b.requestIDs = append([]string{c.requestID}, b.requestIDs...)
	if c.sawUsage {
		b.usage.Add(c.usage)
		b.sawUse = true
	}
	added := c.item
	if err := b.send(&wire.Event{Type: "response.output_item.added", OutputIndex: intp(idx), Item: &added}); err != nil {
		return err
	}
	done := c.item
	return b.send(&wire.Event{Type: "response.output_item.done", OutputIndex: intp(idx), Item: &done})
}

// compactOnTruncate reports whether truncation "auto" compacts before it
// drops turns: when the configuration has a compaction section.
func (rt *Runtime) compactOnTruncate() bool {
	if rt.Compaction == nil {
		return false
	}
	c := rt.Compaction()
	return c != nil && c.Configured
}

// Compact serves POST /v1/responses/compact: the context the request
// names (input, previous_response_id or conversation) is compacted
// whatever its size. The output is the turns kept verbatim, then the
// compaction item; fed back as input, it continues the conversation.
// Nothing is stored.
func (rt *Runtime) Compact(ctx context.Context, p *identity.Principal, cp *CreateParams) (*wire.Compacted, error) {
	o := OwnerOf(p)
	hist, err := rt.history(ctx, o, cp)
	if err != nil {
		return nil, err
	}
	input, err := rt.resolve(ctx, o, hist, cp.Input)
	if err != nil {
		return nil, err
	}
	if latestCompaction(input) >= 0 {
		if input, err = fromLatestCompaction(input); err != nil {
			return nil, err
		}
		hist = nil
	}
	all := append(append([]wire.Item(nil), hist...), input...)
	_, waiting, err := rt.approvals(ctx, o, hist, input)
	if err != nil {
		return nil, err
	}
	if err := checkToolPairs(all, waiting); err != nil {
		return nil, err
	}
	s := rt.compactionSettings()
	split := 0
	for keep := s.KeepRecentTurns; keep >= 1 && split == 0; keep-- {
		split = keepFrom(all, keep)
	}
	if split <= 0 {
		return nil, invalid("input", "There is nothing to compact: the context needs at least two user turns.")
	}
	extra := ""
	if cp.Req.Instructions != nil {
		extra = *cp.Req.Instructions
	}
	c, err := rt.summarise(ctx, p, cp, all[:split], all[split:], s, extra)
	if err != nil {
		return nil, err
	}
	out := &wire.Compacted{ID: identity.NewID("resp_"), Object: "response.compaction", CreatedAt: time.Now().Unix(),
		Output: append(append([]wire.Item(nil), all[split:]...), c.item)}
	u := wire.Usage{}
	if c.sawUsage {
		in := c.usage.InputTokens + c.usage.CacheWriteTokens
		u = wire.Usage{InputTokens: in, InputTokensDetails: wire.InputTokensDetails{CachedTokens: c.usage.CachedInputTokens},
			OutputTokens: c.usage.OutputTokens, OutputTokensDetails: wire.OutputTokensDetails{ReasoningTokens: c.usage.ReasoningTokens},
			TotalTokens: in + c.usage.OutputTokens}
	}
	out.Usage = &u
	return out, nil
}
