package gateway

// Cost is what the call's usage so far costs, in nano-USD, at its
// target's price (0 for an unpriced target). After Finish it is what the
// call's usage record says.
func (c *Call) Cost() int64 {
	if c == nil || c.target == nil || !c.sawUsage {
		return 0
	}
	return c.target.Price.Cost(c.usage)
}

// familyOf is a provider's reasoning family, if it names one.
func familyOf(p Provider) string {
	if f, ok := p.(interface{ Family() string }); ok {
		return f.Family()
	}
	return ""
}
