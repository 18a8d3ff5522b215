package server

import (
	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/gateway"
	azureprov "github.com/causeway-ai/causeway/internal/provider/azure"
)

var _ gateway.Provider = (*azureprov.Provider)(nil)

func init() {
	providerBuilders[azureprov.Kind] = func(p config.Provider) (gateway.Provider, error) {
		return azureprov.New(azureprov.Config{
			Name: p.Name, BaseURL: p.BaseURL, APIVersion: p.APIVersion, Auth: p.Auth,
			APIKey: p.APIKey.Reveal(), Headers: p.Headers,
			TenantID: p.TenantID, ClientID: p.ClientID, ClientSecret: p.ClientSecret.Reveal(), TokenURL: p.TokenURL,
			ConnectTimeout: p.Timeouts.Connect.Std(), FirstTokenTimeout: p.Timeouts.FirstToken.Std(),
			IdleTimeout: p.Timeouts.Idle.Std(), TotalTimeout: p.Timeouts.Total.Std(),
			MaxIdleConns: p.MaxIdleConns,
		})
	}
}
