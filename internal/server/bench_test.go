package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// The gateway's hot path in-process, for profiling (`go test -bench Gateway
// -cpuprofile cpu.out ./internal/server`). The overhead benchmark in
// bench/overhead measures against a floor with separate processes; these
// only find where the time goes.
func benchChat(b *testing.B, body string) {
	e := servertest.Start(b, servertest.Options{Config: strings.Replace(servertest.DefaultConfig, "requests: false", "requests: true", 1)})
	_, key := e.CreateKey(b, server.KeyRequest{Name: "bench"})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

func BenchmarkGatewayWhole(b *testing.B) {
	benchChat(b, `{"model":"sim-openai","max_tokens":16,"messages":[{"role":"user","content":"Say something about gateways."}]}`)
}

func BenchmarkGatewayStream(b *testing.B) {
	benchChat(b, `{"model":"sim-openai","max_tokens":16,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say something about gateways."}]}`)
}
