package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// targetCollector exports each target's routing state at scrape time.
type targetCollector struct{ s *Server }

var (
	targetStateDesc = prometheus.NewDesc("causeway_target_state",
		"Routing state of a target: 0 healthy, 1 ejected, 2 probing.", []string{"model", "provider", "upstream_model"}, nil)
	targetLatencyDesc = prometheus.NewDesc("causeway_target_latency_ewma_seconds",
		"Exponentially weighted moving average of a target's time to first token.", []string{"model", "provider", "upstream_model"}, nil)
	targetInflightDesc = prometheus.NewDesc("causeway_target_inflight",
		"Upstream attempts in flight to a target.", []string{"model", "provider", "upstream_model"}, nil)
)

func (c targetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- targetStateDesc
	ch <- targetLatencyDesc
	ch <- targetInflightDesc
}

func (c targetCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.s.aliases.Load()
	if p == nil {
		return
	}
	now := time.Now()
	for _, a := range *p {
		for i, t := range a.Targets {
			h := a.Pool.Members[i].Health
			labels := []string{a.Name, t.Provider.Name(), t.Model}
			ch <- prometheus.MustNewConstMetric(targetStateDesc, prometheus.GaugeValue, float64(h.State(now)), labels...)
			ch <- prometheus.MustNewConstMetric(targetLatencyDesc, prometheus.GaugeValue, h.Latency().Seconds(), labels...)
			ch <- prometheus.MustNewConstMetric(targetInflightDesc, prometheus.GaugeValue, float64(h.Inflight()), labels...)
		}
	}
}
