package openai

// CloseIdleConnections closes the provider's idle upstream connections
// (after a reload replaced it, and in leak tests).
func (p *Provider) CloseIdleConnections() { p.up.CloseIdleConnections() }
