// Package metrics defines Causeway's Prometheus metrics on a registry of
// its own. Labels are bounded sets (model aliases and providers from the
// config, status classes), never request data.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector Causeway exports.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests counts client requests by endpoint, model alias and status code.
	Requests *prometheus.CounterVec
	// Latency is the client-visible request duration.
	Latency *prometheus.HistogramVec
	// TTFT is the time from the start of an upstream attempt to its first
	// content event.
	TTFT *prometheus.HistogramVec
	// Tokens counts tokens by alias, provider and direction.
	Tokens *prometheus.CounterVec
	// Cost counts spend in US dollars by alias and provider.
	Cost *prometheus.CounterVec
	// UpstreamErrors counts failed upstream attempts by provider and kind.
	UpstreamErrors *prometheus.CounterVec
	// Attempts counts upstream attempts by provider and status.
	Attempts *prometheus.CounterVec
	// CacheRequests counts response-cache lookups by alias and result.
	CacheRequests *prometheus.CounterVec
	// Hedges counts hedge attempts launched, by alias.
	Hedges *prometheus.CounterVec
	// Ejections counts targets ejected by outlier detection.
	Ejections *prometheus.CounterVec
	// UsagePending is the number of usage records waiting to be written.
	UsagePending prometheus.Gauge
	// UsageWriteErrors counts failed usage batch writes (they are retried).
	UsageWriteErrors prometheus.Counter
	// ToolCalls counts the Responses runtime's server-side tool calls by
	// tool and outcome.
	ToolCalls *prometheus.CounterVec
	// BackgroundResponses is the number of background responses running
	// in this process.
	BackgroundResponses prometheus.Gauge
}

var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// New registers and returns Causeway's metrics.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_requests_total", Help: "Client requests by endpoint, model alias and HTTP status code.",
		}, []string{"endpoint", "model", "code"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "causeway_request_duration_seconds", Help: "Client-visible request duration.", Buckets: latencyBuckets,
		}, []string{"endpoint", "model", "stream"}),
		TTFT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "causeway_time_to_first_token_seconds", Help: "Time from the start of an upstream attempt to its first content event.", Buckets: latencyBuckets,
		}, []string{"model", "provider"}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_tokens_total", Help: "Tokens metered, by model alias, provider and type (input, output, cached, reasoning).",
		}, []string{"model", "provider", "type"}),
		Cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_cost_usd_total", Help: "Metered cost in US dollars by model alias and provider.",
		}, []string{"model", "provider"}),
		UpstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_upstream_errors_total", Help: "Failed upstream attempts by provider and error kind.",
		}, []string{"provider", "kind"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_upstream_attempts_total", Help: "Upstream attempts by provider and final status (ok, error, partial, canceled).",
		}, []string{"provider", "status"}),
		CacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_cache_requests_total", Help: "Response-cache lookups by model alias and result (hit, miss).",
		}, []string{"model", "result"}),
		Hedges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_hedges_total", Help: "Second attempts launched because the first was slower than the hedge delay, by model alias.",
		}, []string{"model"}),
		Ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_target_ejections_total", Help: "Targets ejected from their pools after repeated failures, by provider and upstream model.",
		}, []string{"provider", "upstream_model"}),
		UsagePending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "causeway_usage_pending_records", Help: "Usage records buffered and not yet written to the store.",
		}),
		UsageWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "causeway_usage_write_errors_total", Help: "Usage batch writes that failed and were retried.",
		}),
	}
	m.ToolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "causeway_tool_calls_total",
		Help: "Server-side tool calls by tool and outcome: ok, error, refused (not allowed, repeated, over max_tool_calls, not approved) or approval_requested.",
	}, []string{"tool", "outcome"})
	m.BackgroundResponses = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "causeway_background_responses", Help: "Background responses running in this process.",
	})
	r.MustRegister(m.Requests, m.Latency, m.TTFT, m.Tokens, m.Cost, m.UpstreamErrors, m.Attempts, m.CacheRequests, m.Hedges, m.Ejections, m.UsagePending, m.UsageWriteErrors,
		m.ToolCalls, m.BackgroundResponses)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
