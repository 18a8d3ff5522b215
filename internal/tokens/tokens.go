// Package tokens estimates the input tokens of a canonical request,
// offline, for the doors' and the runtime's token-counting routes. It
// never sends anything upstream and never touches the network.
package tokens

import (
	"bytes"
	"encoding/base64"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/causeway-ai/causeway/internal/llm"
)

// encoding loads o200k_base once, from the tables compiled into the
// binary: the offline loader never touches the network (tiktoken's
// default loader downloads at first use).
var encoding = sync.OnceValues(func() (*tiktoken.Tiktoken, error) {
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	return tiktoken.GetEncoding("o200k_base")
})

// Overheads of the estimate, in tokens. Anthropic does not publish its
// tokenizer or its framing; these are of the order it reports.
const (
	PerMessage = 3    // role and turn framing
	perTool    = 8    // a tool definition's framing
	perImage   = 1600 // an image of about 1.15 megapixels, Anthropic's upper size
	perPage    = 1600 // a PDF page: its text and its image
)

// Count estimates the input tokens of req. Providers' tokenizers differ
// (Anthropic's is not public), so the count comes from OpenAI's
// o200k_base encoding plus fixed overheads: it is stable and of the
// right order, but an estimate, whatever provider the alias routes to.
// It is computed offline; nothing is sent upstream.
func Count(req *llm.Request) (int64, error) {
	count, err := counter()
	if err != nil {
		return 0, err
	}
	var n int64
	for i := range req.Messages {
		m := &req.Messages[i]
		n += PerMessage
		for _, p := range m.Content {
			switch p.Type {
			case llm.PartText, llm.PartThinking:
				n += count(p.Text)
			case llm.PartImage:
				n += perImage
			case llm.PartFile:
				n += perPage * pdfPages(p.Data)
			case llm.PartRedactedThinking:
				n += int64(len(p.Data)) / 4
			}
		}
		for _, tc := range m.ToolCalls {
			n += count(tc.Name) + count(tc.Arguments)
		}
	}
	for _, t := range req.Tools {
		n += perTool + count(t.Name) + count(t.Description) + count(string(t.Parameters))
	}
	return max(n, 1), nil
}

// maxPiece bounds the text tokenized at once. BPE is quadratic in the
// length of a run without breaks (a long word, a run of spaces): cut into
// pieces, a body of any size is counted in linear time, at the price of a
// token or so per cut inside a word.
const maxPiece = 256

// nextPiece returns the next piece of s to tokenize and the rest: at most
// maxPiece bytes, cut after a space when there is one in its second half,
// and never inside a UTF-8 sequence.
func nextPiece(s string) (piece, rest string) {
	if len(s) <= maxPiece {
		return s, ""
	}
	cut := maxPiece
	if i := strings.LastIndexByte(s[maxPiece/2:maxPiece], ' '); i > 0 {
		cut = maxPiece/2 + i
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if cut == 0 {
		cut = maxPiece
	}
	return s[:cut], s[cut:]
}

// pdfPages counts the page objects of a base64 PDF, at least one.
func pdfPages(b64 string) int64 {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 1
	}
	n := bytes.Count(raw, []byte("/Type /Page")) - bytes.Count(raw, []byte("/Type /Pages")) +
		bytes.Count(raw, []byte("/Type/Page")) - bytes.Count(raw, []byte("/Type/Pages"))
	return int64(max(n, 1))
}

// Text estimates the tokens of plain texts (o200k_base, no overheads):
// for an upstream that reports no usage, such as Gemini's embeddings.
func Text(texts ...string) (int64, error) {
	count, err := counter()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range texts {
		n += count(s)
	}
	return n, nil
}

// counter returns the function counting one text's tokens.
func counter() (func(string) int64, error) {
	enc, err := encoding()
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "could not load the tokenizer", Err: err}
	}
	return func(s string) int64 {
		var n int64
		for s != "" {
			var piece string
			piece, s = nextPiece(s)
			n += int64(len(enc.EncodeOrdinary(piece)))
		}
		return n
	}, nil
}
