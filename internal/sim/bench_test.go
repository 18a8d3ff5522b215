package sim_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/causeway-ai/causeway/internal/sim"
)

// discardWriter is a reusable ResponseWriter that can flush, so that the
// benchmarks measure the simulator rather than the recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *discardWriter) Flush()                      {}

// body is a reusable request body.
type body struct{ bytes.Reader }

func (*body) Close() error { return nil }

func benchmarkChat(b *testing.B, path, payload string) {
	s := sim.New(sim.Options{})
	req, err := http.NewRequest("POST", "http://sim"+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = int64(len(payload))
	rb := new(body)
	req.Body = rb
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		rb.Reset([]byte(payload))
		clear(w.h)
		w.status, w.n = 200, 0
		s.ServeHTTP(w, req)
		if w.status != 200 || w.n == 0 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
	b.ReportMetric(float64(w.n), "resp_bytes")
}

const benchMessages = `"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a short paragraph about gateways and why they meter tokens."}]`

func BenchmarkChatWhole(b *testing.B) {
	benchmarkChat(b, "/v1/chat/completions", `{"model":"gpt-4o-mini",`+benchMessages+`}`)
}

func BenchmarkChatStream(b *testing.B) {
	benchmarkChat(b, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},`+benchMessages+`}`)
}

func BenchmarkChatToolCall(b *testing.B) {
	benchmarkChat(b, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,`+benchMessages+
		`,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}}]}`)
}

func BenchmarkEmbeddings(b *testing.B) {
	benchmarkChat(b, "/v1/embeddings", `{"model":"text-embedding-3-small","input":"The quick brown fox jumps over the lazy dog."}`)
}

var _ io.ReadCloser = (*body)(nil)
