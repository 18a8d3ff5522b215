package benchkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// NewClient returns a load generator's HTTP client with its own
// keep-alive pool (one per target or gateway process).
func NewClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 10000,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// Mode is non-streaming or streaming.
type Mode struct {
	Name   string
	Stream bool
}

// ChatBody is the benchmarks' OpenAI chat-completions request: one user
// message, max_tokens if > 0, and stream with include_usage if stream.
func ChatBody(model string, stream bool, maxTokens int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"` + model + `","messages":[{"role":"user","content":"Say something about gateways."}]`)
	if maxTokens > 0 {
		b.WriteString(`,"max_tokens":`)
		b.WriteString(strconv.Itoa(maxTokens))
	}
	if stream {
		b.WriteString(`,"stream":true,"stream_options":{"include_usage":true}`)
	}
	b.WriteString("}")
	return b.Bytes()
}

// StatusError is a control request answered with a status ≥ 300; its
// message is the trimmed response body.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return e.Body }

// Call sends one control request (admin API, simulator control) with
// timeout, auth as the Authorization header if not empty, and decodes a
// JSON answer into out if out is not nil. A status ≥ 300 is a
// *StatusError.
func Call(ctx context.Context, timeout time.Duration, method, url, auth, body string, out any) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(cctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, &StatusError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %v", bytes.TrimSpace(data), err)
		}
	}
	return resp.StatusCode, nil
}
