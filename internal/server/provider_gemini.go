package server

import (
	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/gateway"
	gemprov "github.com/causeway-ai/causeway/internal/provider/gemini"
)

var _ gateway.Provider = (*gemprov.Provider)(nil)

func init() {
	providerBuilders[gemprov.Kind] = func(p config.Provider) (gateway.Provider, error) {
		cfg := gemprov.Config{
			Name: p.Name, BaseURL: p.BaseURL, APIVersion: p.APIVersion, APIKey: p.APIKey.Reveal(), Headers: p.Headers,
			ConnectTimeout: p.Timeouts.Connect.Std(), FirstTokenTimeout: p.Timeouts.FirstToken.Std(),
			IdleTimeout: p.Timeouts.Idle.Std(), TotalTimeout: p.Timeouts.Total.Std(),
			MaxIdleConns: p.MaxIdleConns,
		}
		if p.Auth == "vertex" {
			cfg.Vertex = &gemprov.VertexConfig{Project: p.Project, Region: p.Region, CredentialsFile: p.CredentialsFile}
		}
		return gemprov.New(cfg)
	}
}
