package gateway

import (
	"context"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
)

// Embed runs an embeddings request through the path, trying the alias's
// targets in order, and meters every attempt.
func (g *Gateway) Embed(ctx context.Context, p *identity.Principal, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	alias, err := g.Alias(p, req.Model)
	if err != nil {
		return nil, err
	}
	if err := g.admit(ctx, p); err != nil {
		return nil, err
	}
	rid := RequestID(ctx)
	var resp *llm.EmbeddingResponse
	err = g.run(ctx, p, alias, g.routeRequest(ctx, p, req.User), func(a attempt) error {
		t := &a.alias.Targets[a.index]
		h := a.alias.Pool.Members[a.index].Health
		r := *req
		r.UpstreamModel = t.Model
		start := time.Now()
		upCtx, cancel, stop := g.upstreamContext(ctx)
		g.inflight.Add(1)
		defer g.inflight.Done()
		h.Begin()
		out, err := t.Provider.Embed(upCtx, &r)
		h.End()
		stop()
		cancel()
		rec := billing.Record{
			RequestID: rid, Attempt: a.n, Tenant: p.Tenant, Team: p.Team, User: p.User,
			Endpoint: "embeddings", Alias: alias.Name, Provider: t.Provider.Name(), UpstreamModel: t.Model,
			Status: billing.StatusOK, HTTPStatus: 200, StartedAt: start, Latency: time.Since(start),
		}
		tieOf(ctx).apply(&rec)
		if p.Key != nil {
			rec.KeyID = p.Key.ID
		}
		var u llm.Usage
		if err != nil {
			e := llm.AsError(err)
			rec.Status, rec.ErrorKind = billing.StatusError, e.Kind.String()
			rec.HTTPStatus = e.Status
			if rec.HTTPStatus == 0 {
				rec.HTTPStatus = statusForKind(e.Kind)
			}
			g.m.UpstreamErrors.WithLabelValues(rec.Provider, rec.ErrorKind).Inc()
			switch {
			case e.Kind == llm.KindRateLimited:
				h.RateLimited(time.Now(), e.RetryAfter)
				h.Release()
			case unhealthy(err):
				a.alias.Pool.Failure(a.index, time.Now())
			default:
				h.Release()
			}
		} else {
			h.Success(time.Since(start))
			u = out.Usage
			rec.InputTokens = u.InputTokens
			if t.Priced {
				rec.CostNanoUSD = t.Price.Cost(u)
			}
		}
		g.record(&rec, u)
		g.chargeTokens(p.Key, u)
		if err != nil {
			return err
		}
		out.Model = alias.Name
		resp = out
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
