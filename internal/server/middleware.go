package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/llm"
)

// statusWriter records the status and size of a response. It unwraps to
// the underlying writer so http.ResponseController can flush.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type notFound struct{ path string }

func (n *notFound) err() error {
	return (&llm.Error{Kind: llm.KindNotFound, Message: "Invalid URL (" + n.path + ")"}).WithCode("unknown_url")
}

// middleware gives every request an id (echoed as x-request-id), recovers
// panics, and records the access log line and request metrics.
func (s *Server) middleware(next http.Handler) http.Handler {
	accessLog := s.cfg.Log.Requests
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &gateway.RequestInfo{ID: gateway.NewRequestID(), Session: r.Header.Get("X-Causeway-Session"),
			NoCache: strings.EqualFold(r.Header.Get("X-Causeway-Cache"), "bypass") || strings.Contains(strings.ToLower(r.Header.Get("Cache-Control")), "no-cache")}
		if v := r.Header.Get("X-Causeway-Region"); v != "" {
			for _, reg := range strings.Split(v, ",") {
				if reg = strings.TrimSpace(reg); reg != "" {
					info.PreferRegions = append(info.PreferRegions, reg)
				}
			}
		}
		w.Header().Set("X-Request-Id", info.ID)
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(gateway.WithRequestInfo(r.Context(), info))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", slog.String("request_id", info.ID), slog.Any("panic", v))
				if sw.status == 0 {
					http.Error(sw, `{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`, http.StatusInternalServerError)
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			ep := endpointOf(r.URL.Path)
			d := time.Since(start)
			if ep == "chat" || ep == "embeddings" {
				model := info.Model
				if !s.gw.Known(model) {
					model = "unknown" // bounded label set: never a client string that matched nothing
				}
				s.metrics.Requests.WithLabelValues(ep, model, strconv.Itoa(status)).Inc()
				stream := "false"
				if info.Stream {
					stream = "true"
				}
				s.metrics.Latency.WithLabelValues(ep, model, stream).Observe(d.Seconds())
			}
			if accessLog && ep != "ops" {
				s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("request_id", info.ID),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.String("model", info.Model),
					slog.Bool("stream", info.Stream),
					slog.Int64("bytes", sw.bytes),
					slog.Duration("duration", d),
				)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
