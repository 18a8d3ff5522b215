package bedrock

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/bedrock"
)

// Embed implements the gateway's Provider with InvokeModel: Titan text
// embeddings (one call per input, as the model takes one text) and Cohere
// embed models (one call for all inputs, input_type search_document).
func (p *Provider) Embed(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	model := req.UpstreamModel
	switch {
	case strings.Contains(model, "amazon.titan-embed"):
		out := &llm.EmbeddingResponse{Model: model, Vectors: make([][]float32, len(req.Input))}
		for i, in := range req.Input {
			w := wire.TitanEmbedRequest{InputText: in}
			if req.Dimensions > 0 {
				d := req.Dimensions
				w.Dimensions = &d
			}
			if strings.Contains(model, "text-v2") {
				t := true
				w.Normalize = &t
			}
			var r wire.TitanEmbedResponse
			if _, err := p.invoke(ctx, model, &w, &r); err != nil {
				return nil, err
			}
			if len(r.Embedding) == 0 {
				return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned no embedding for input " + strconv.Itoa(i)}
			}
			out.Vectors[i] = r.Embedding
			out.Usage.InputTokens += r.InputTextTokenCount
		}
		return out, nil
	case strings.Contains(model, "cohere.embed"):
		if req.Dimensions > 0 {
			return nil, invalid("dimensions", "dimensions is not supported by the bedrock provider for Cohere embedding models")
		}
		w := wire.CohereEmbedRequest{Texts: req.Input, InputType: "search_document"}
		var r wire.CohereEmbedResponse
		tokens, err := p.invoke(ctx, model, &w, &r)
		if err != nil {
			return nil, err
		}
		if len(r.Embeddings) != len(req.Input) {
			return nil, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned " + strconv.Itoa(len(r.Embeddings)) + " embeddings for " + strconv.Itoa(len(req.Input)) + " inputs"}
		}
		return &llm.EmbeddingResponse{Model: model, Vectors: r.Embeddings, Usage: llm.Usage{InputTokens: tokens}}, nil
	}
	return nil, (&llm.Error{Kind: llm.KindInvalid, Param: "model",
		Message: "embedding model " + model + " is not supported by the bedrock provider (amazon.titan-embed-* and cohere.embed-* are)"}).WithCode("unsupported_model")
}

// invoke calls InvokeModel with in as the body, decodes the answer into
// out and returns the X-Amzn-Bedrock-Input-Token-Count header.
func (p *Provider) invoke(ctx context.Context, model string, in, out any) (int64, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, &llm.Error{Kind: llm.KindInternal, Message: "could not encode the embeddings request", Err: err}
	}
	call, err := p.up.Open(ctx, p.up.FirstTokenTimeout, func(ctx context.Context) (*http.Response, error) {
		return p.post(ctx, ModelPath(model, "invoke"), body, "application/json", nil)
	}, p.upstreamError)
	if err != nil {
		return 0, err
	}
	b, err := call.ReadAll()
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return 0, &llm.Error{Kind: llm.KindUpstream, Message: "the upstream returned embeddings that are not valid JSON", Err: err}
	}
	n, _ := strconv.ParseInt(call.Header.Get(wire.HeaderInputTokenCount), 10, 64)
	return n, nil
}
