// Package httptool is a server-side tool backed by an HTTP endpoint
// (config.HTTPTool): the model's arguments fill the URL's {name}
// placeholders, and the rest go in the query (GET, HEAD, DELETE) or as a
// JSON body. The configured headers (secrets) are sent but never shown to
// the model or logged. Every call carries the caller's identity
// (tool.HeaderTenant, tool.HeaderUser, and a signature with the tool's
// identity_secret), never their API key. Calls go through netguard: only
// public addresses, unless the host is in allow_hosts.
package httptool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/tool"
	"github.com/causeway-ai/causeway/internal/tool/netguard"
)

// Defaults for the config's zero values.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 65536
)

// Tool is one HTTP tool.
type Tool struct {
	name, desc string
	params     json.RawMessage
	method     string
	url        string
	headers    map[string]config.Secret
	secret     config.Secret // signs the caller's identity, if set
	guard      *netguard.Guard
	client     *http.Client
	timeout    time.Duration
	max        int
}

var _ tool.Tool = (*Tool)(nil)

var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// New builds the tool from its configuration.
func New(c config.HTTPTool) (*Tool, error) {
	if c.Name == "" {
		return nil, errors.New("httptool: name is required")
	}
	probe := placeholder.ReplaceAllString(c.URL, "x")
	u, err := url.Parse(probe)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("httptool %s: url must be an absolute http or https URL", c.Name)
	}
	t := &Tool{name: c.Name, desc: c.Description, method: strings.ToUpper(c.Method), url: c.URL,
		headers: c.Headers, secret: c.IdentitySecret, guard: netguard.New(c.AllowHosts), timeout: c.Timeout.Std(), max: c.MaxResponseBytes}
	if t.method == "" {
		t.method = http.MethodGet
	}
	if t.timeout <= 0 {
		t.timeout = DefaultTimeout
	}
	if t.max <= 0 {
		t.max = DefaultMaxResponseBytes
	}
	params := c.Parameters
	if params == nil {
		params = map[string]any{"type": "object", "properties": map[string]any{}}
	}
	if t.params, err = json.Marshal(params); err != nil {
		return nil, fmt.Errorf("httptool %s: parameters: %w", c.Name, err)
	}
	t.client = t.guard.Client(t.timeout)
	guarded := t.client.CheckRedirect
	t.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		// Go forwards custom headers on a redirect; to another host, or
		// to the same host without TLS, they would hand over the
		// configured secrets and a replayable identity signature.
		if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
			for k := range t.headers {
				req.Header.Del(k)
			}
			for _, k := range []string{tool.HeaderTenant, tool.HeaderUser, tool.HeaderIdentity} {
				req.Header.Del(k)
			}
		}
		return guarded(req, via)
	}
	return t, nil
}

func (t *Tool) Name() string                { return t.name }
func (t *Tool) Description() string         { return t.desc }
func (t *Tool) Parameters() json.RawMessage { return t.params }

// Close releases idle connections.
func (t *Tool) Close() { t.client.CloseIdleConnections() }

// argString renders an argument for a URL: strings as they are, other
// values as JSON.
func argString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// build makes the request for the arguments, as id.
func (t *Tool) build(ctx context.Context, raw json.RawMessage, id tool.Identity) (*http.Request, error) {
	args := map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&args); err != nil {
			return nil, fmt.Errorf("arguments must be a JSON object: %v", err)
		}
		if args == nil {
			args = map[string]any{}
		}
	}
	used := map[string]bool{}
	var missing []string
	u := placeholder.ReplaceAllStringFunc(t.url, func(m string) string {
		name := m[1 : len(m)-1]
		v, ok := args[name]
		if !ok {
			missing = append(missing, name)
			return ""
		}
		used[name] = true
		return url.PathEscape(argString(v))
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing argument %q", missing[0])
	}
	rest := map[string]any{}
	for k, v := range args {
		if !used[k] {
			rest[k] = v
		}
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("bad URL: %v", err)
	}
	var body io.Reader
	switch t.method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		q := parsed.Query()
		for k, v := range rest {
			q.Set(k, argString(v))
		}
		parsed.RawQuery = q.Encode()
	default:
		b, err := json.Marshal(rest)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	if err := t.guard.CheckURL(parsed.Scheme, parsed.Hostname(), parsed.Port()); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, t.method, parsed.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "causeway-tool/1")
	for k, v := range t.headers {
		req.Header.Set(k, v.Reveal())
	}
	// After the configured headers: they cannot impersonate a caller.
	id.SetHeaders(req.Header, t.secret.Reveal(), time.Now())
	return req, nil
}

// Call runs the request. A refused destination, a network failure or a
// timeout is an error (the tool could not run); an HTTP error status is
// a Result with IsError.
func (t *Tool) Call(ctx context.Context, c tool.Call) (tool.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := t.build(ctx, c.Arguments, tool.IdentityOf(c.Principal))
	if err != nil {
		return tool.Result{}, fmt.Errorf("%s: %w", t.name, err)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		// The error names the URL (the model's arguments), never a header.
		return tool.Result{}, fmt.Errorf("%s: %w", t.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(t.max)+1))
	if err != nil {
		return tool.Result{}, fmt.Errorf("%s: reading the response: %w", t.name, err)
	}
	meta := map[string]any{"status": resp.StatusCode, "content_type": resp.Header.Get("Content-Type")}
	if len(b) > t.max {
		b = b[:t.max]
		meta["truncated"] = true
	}
	return tool.Result{Output: string(b), IsError: resp.StatusCode >= 400, Meta: meta}, nil
}
