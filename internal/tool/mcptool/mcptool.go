// Package mcptool offers the tools of Model Context Protocol servers as
// server-side tools of the runtime. It is an MCP client: it connects to a
// server over Streamable HTTP or stdio, lists its tools, and calls them
// with the model's arguments.
//
// A tool's description and input schema are what the model reads, so a
// server that changes them changes what the model is told; every tool is
// therefore pinned to the SHA-256 of its name, description and schema
// (see Hash) kept in a PinStore. A tool whose hash differs from its pin
// is disabled: never offered, and refused if called, until its pin is
// updated (Server.Approve). Every call carries the caller's identity
// (tool.Identity) in the request's _meta and, over HTTP, in headers set
// for that call only. The package must never offer the model a
// description nobody approved, never send the caller's API key, and never
// hand a stdio server the gateway's environment (it holds secrets).
package mcptool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/tool"
)

// Separator joins a server's name and its tool's name into the function
// name the model calls ("<server>__<tool>").
const Separator = "__"

// ErrDisabled is returned by a tool's Call when its server changed the
// tool's description or schema since it was approved.
var ErrDisabled = errors.New("tool description changed; disabled until approved")

// ErrGone is returned by a tool's Call when its server no longer lists it.
var ErrGone = errors.New("tool no longer offered by its MCP server")

// ErrClosed is returned once the Server is closed.
var ErrClosed = errors.New("mcp server connection closed")

// ErrUnknownTool is returned by Approve for a tool the server does not
// list.
var ErrUnknownTool = errors.New("no such MCP tool")

// ErrHashMismatch is returned by Approve when the hash the approver
// reviewed is not the tool's current one.
var ErrHashMismatch = errors.New("the tool's current hash differs from the one approved")

// ErrConfigPinned is returned by Approve for a tool pinned in the
// configuration: its pin is changed there, not in the store.
var ErrConfigPinned = errors.New("the tool is pinned in the configuration")

// functionName is what the Responses and Chat APIs accept as a function
// name; a tool whose prefixed name does not fit is not offered.
var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// stdioEnv lists the variables a stdio server inherits from the gateway;
// everything else (provider keys, database URLs) stays behind.
var stdioEnv = []string{"PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT"}

// Option configures Connect.
type Option func(*Server)

// WithLogger logs pinning decisions and background refresh failures to l.
// The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// WithOnChange calls f after every refresh of the tool list (on Connect,
// Refresh, a server's notification, a reconnect or Approve), so a
// registry can follow which tools are enabled. f must not call Refresh
// or Approve.
func WithOnChange(f func()) Option {
	return func(s *Server) { s.onChange = f }
}

// WithPinRecheck sets how often a disabled tool's pin is read again, so
// that an approval made through another gateway sharing the pin store
// enables the tool here too (default DefaultPinRecheck; ≤ 0 never).
func WithPinRecheck(every time.Duration) Option {
	return func(s *Server) { s.recheck = every }
}

// DefaultPinRecheck is how often a disabled tool's pin is read again.
const DefaultPinRecheck = 10 * time.Second

// Server is a connection to one MCP server and the tools it offers. It is
// safe for concurrent use.
type Server struct {
	cfg      config.MCPServer
	pins     PinStore
	log      *slog.Logger
	client   *mcp.Client
	onChange func()
	recheck  time.Duration

	// bg outlives Connect's context, for refreshes on a notification.
	bg     context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dialMu    sync.Mutex // serializes reconnects
	refreshMu sync.Mutex // serializes list-and-apply

	mu      sync.Mutex
	session *mcp.ClientSession
	tools   map[string]*mcpTool // by the server's tool name
	closed  bool
}

// Connect connects to the MCP server cfg describes — cfg.URL over
// Streamable HTTP with cfg.Headers, or cfg.Command over stdio — and lists
// its tools, pinning each one against cfg.Pins, else pins. pins must not
// be nil. The Server's tools are named "<cfg.Name>__<tool>".
func Connect(ctx context.Context, cfg config.MCPServer, pins PinStore, opts ...Option) (*Server, error) {
	if cfg.Name == "" {
		return nil, errors.New("mcp server: name is required")
	}
	if (cfg.URL == "") == (len(cfg.Command) == 0) {
		return nil, fmt.Errorf("mcp server %q: set exactly one of url and command", cfg.Name)
	}
	if pins == nil {
		return nil, fmt.Errorf("mcp server %q: no pin store", cfg.Name)
	}
	s := &Server{
		cfg:     cfg,
		pins:    pins,
		log:     slog.New(slog.DiscardHandler),
		tools:   map[string]*mcpTool{},
		recheck: DefaultPinRecheck,
	}
	for _, o := range opts {
		o(s)
	}
	s.bg, s.cancel = context.WithCancel(context.Background())
	s.client = mcp.NewClient(&mcp.Implementation{Name: "causeway", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { s.refreshLater() },
	})
	cs, err := s.dial(ctx)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("mcp server %q: connect: %w", cfg.Name, err)
	}
	s.mu.Lock()
	s.session = cs
	s.mu.Unlock()
	if err := s.Refresh(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.recheck > 0 {
		s.wg.Add(1)
		go s.recheckPins()
	}
	return s, nil
}

// recheckPins reads the pins of disabled tools every s.recheck, and
// re-lists the tools when one has been approved (its pin is now the
// listed version's hash) through another gateway.
func (s *Server) recheckPins() {
	defer s.wg.Done()
	t := time.NewTicker(s.recheck)
	defer t.Stop()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		waiting := map[string]string{}
		for remote, tl := range s.tools {
			if _, configured := s.cfg.Pins[remote]; tl.state == disabled && !configured {
				waiting[remote] = tl.rejected
			}
		}
		s.mu.Unlock()
		for remote, hash := range waiting {
			pin, ok, err := s.pins.Get(s.bg, s.cfg.Name, remote)
			if err != nil || !ok || pin != hash {
				continue
			}
			if err := s.Refresh(s.bg); err != nil && s.bg.Err() == nil {
				s.log.Warn("mcp tools refresh failed", slog.String("server", s.cfg.Name), slog.Any("error", err))
			}
			break
		}
	}
}

// Name is the server's configured name.
func (s *Server) Name() string { return s.cfg.Name }

// Tools returns the tools currently offered: listed by the server and
// matching their pins, sorted by name. A tool value stays the same across
// refreshes, so it may be kept in a registry; its Call refuses once the
// tool is disabled or gone.
func (s *Server) Tools() []tool.Tool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []tool.Tool
	for _, t := range s.tools {
		if t.state == enabled {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Refresh lists the server's tools again and re-checks every pin: a tool
// whose description or schema changed is disabled, a new tool is pinned
// on first sight, a tool no longer listed is gone. It reconnects once if
// the connection failed. A notification from the server that its tools
// changed triggers the same in the background.
func (s *Server) Refresh(ctx context.Context) error {
	cs, err := s.current(ctx)
	if err != nil {
		return err
	}
	err = s.refreshOn(ctx, cs)
	if retryable(ctx, err) {
		if cs, err = s.redial(ctx, cs); err != nil {
			return err
		}
		err = s.refreshOn(ctx, cs)
	}
	return err
}

// Tool states as Status reports them.
const (
	StatusEnabled         = "enabled"
	StatusDisabledChanged = "disabled_changed"
)

// ToolStatus is one listed tool's pinning state, for an approver.
type ToolStatus struct {
	// Name is the function name ("<server>__<tool>"); Tool the server's.
	Name, Tool string
	// Status is StatusEnabled or StatusDisabledChanged.
	Status string
	// PinnedHash is the pin in force; CurrentHash the listed version's.
	PinnedHash, CurrentHash string
	// ConfigPinned is set when the pin comes from the configuration.
	ConfigPinned bool
	// Description and Parameters are the approved version, offered to
	// the model (empty if no version was approved while connected).
	Description string
	Parameters  json.RawMessage
	// NewDescription and NewParameters are the listed version when it
	// differs from the pin: what an approver reviews.
	NewDescription string
	NewParameters  json.RawMessage
}

// Status returns the listed tools (enabled or disabled, not gone),
// sorted by name.
func (s *Server) Status() []ToolStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ToolStatus
	for _, t := range s.tools {
		if t.state == gone {
			continue
		}
		_, configured := s.cfg.Pins[t.remote]
		st := ToolStatus{Name: t.name, Tool: t.remote, PinnedHash: t.pinned, ConfigPinned: configured,
			Description: t.description, Parameters: t.parameters}
		if t.state == enabled {
			st.Status, st.CurrentHash = StatusEnabled, t.hash
		} else {
			st.Status, st.CurrentHash = StatusDisabledChanged, t.rejected
			st.NewDescription, st.NewParameters = t.listedDesc, t.listedParams
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Approve re-lists the tools, pins the server's tool remote to its
// current hash (recording by as the approver) and enables it. When hash
// is not empty it must be the current hash — what the approver reviewed
// — else ErrHashMismatch. A tool not listed is ErrUnknownTool; one
// pinned in the configuration is ErrConfigPinned.
func (s *Server) Approve(ctx context.Context, remote, hash, by string) (ToolStatus, error) {
	if err := s.Refresh(ctx); err != nil {
		return ToolStatus{}, err
	}
	cur, ok := s.status(remote)
	if !ok {
		return ToolStatus{}, fmt.Errorf("mcp server %q: tool %q: %w", s.cfg.Name, remote, ErrUnknownTool)
	}
	if cur.ConfigPinned {
		return cur, fmt.Errorf("mcp server %q: tool %q: %w", s.cfg.Name, remote, ErrConfigPinned)
	}
	if hash != "" && hash != cur.CurrentHash {
		return cur, fmt.Errorf("mcp server %q: tool %q: %w", s.cfg.Name, remote, ErrHashMismatch)
	}
	if err := s.pins.Approve(ctx, s.cfg.Name, remote, cur.CurrentHash, by); err != nil {
		return cur, fmt.Errorf("mcp server %q: tool %q: approve: %w", s.cfg.Name, remote, err)
	}
	s.log.Info("mcp tool approved", slog.String("server", s.cfg.Name), slog.String("tool", remote),
		slog.String("hash", cur.CurrentHash), slog.String("by", by))
	// If the server changed the tool again meanwhile, this disables it
	// again: only the reviewed version is ever enabled.
	if err := s.Refresh(ctx); err != nil {
		return cur, err
	}
	after, ok := s.status(remote)
	if !ok {
		return cur, fmt.Errorf("mcp server %q: tool %q: %w", s.cfg.Name, remote, ErrUnknownTool)
	}
	return after, nil
}

// status returns one tool's ToolStatus.
func (s *Server) status(remote string) (ToolStatus, bool) {
	for _, st := range s.Status() {
		if st.Tool == remote {
			return st, true
		}
	}
	return ToolStatus{}, false
}

// Close ends the session (and a stdio server's process) and waits for
// background refreshes. Tools refuse calls afterwards.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cs := s.session
	s.session = nil
	s.mu.Unlock()
	s.cancel()
	var err error
	if cs != nil {
		err = cs.Close()
	}
	s.wg.Wait()
	return err
}

// refreshLater re-lists the tools after the server said they changed.
// The SDK calls notification handlers on its read loop, which a request
// from inside the handler would wait on; so the refresh runs apart.
func (s *Server) refreshLater() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		if err := s.Refresh(s.bg); err != nil && s.bg.Err() == nil {
			s.log.Warn("mcp tools refresh failed", slog.String("server", s.cfg.Name), slog.Any("error", err))
		}
	}()
}

// dial opens a new session.
func (s *Server) dial(ctx context.Context) (*mcp.ClientSession, error) {
	var t mcp.Transport
	if s.cfg.URL != "" {
		h := make(http.Header, len(s.cfg.Headers))
		for k, v := range s.cfg.Headers {
			if !tool.IsIdentityHeader(k) {
				h.Set(k, v.Reveal())
			}
		}
		u, err := url.Parse(s.cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("url: %w", err)
		}
		t = &mcp.StreamableClientTransport{
			Endpoint: s.cfg.URL,
			HTTPClient: &http.Client{Transport: headerTransport{base: http.DefaultTransport, host: u.Host, scheme: u.Scheme, header: h,
				secret: s.cfg.IdentitySecret.Reveal()}},
		}
	} else {
		// Not CommandContext: the process lives as long as the session,
		// not as long as the request that happened to start it.
		cmd := exec.Command(s.cfg.Command[0], s.cfg.Command[1:]...)
		cmd.Env = []string{}
		for _, k := range stdioEnv {
			if v, ok := os.LookupEnv(k); ok {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		t = &mcp.CommandTransport{Command: cmd}
	}
	return s.client.Connect(ctx, t, nil)
}

// current returns the open session, dialing if the last reconnect failed.
func (s *Server) current(ctx context.Context) (*mcp.ClientSession, error) {
	s.mu.Lock()
	cs, closed := s.session, s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if cs != nil {
		return cs, nil
	}
	return s.redial(ctx, nil)
}

// redial replaces the failed session old with a new one, unless another
// call already did.
func (s *Server) redial(ctx context.Context, old *mcp.ClientSession) (*mcp.ClientSession, error) {
	s.dialMu.Lock()
	defer s.dialMu.Unlock()
	s.mu.Lock()
	cur, closed := s.session, s.closed
	if cur != old && cur != nil {
		s.mu.Unlock()
		return cur, nil
	}
	s.session = nil
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if old != nil {
		_ = old.Close()
	}
	cs, err := s.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("mcp server %q: reconnect: %w", s.cfg.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = cs.Close()
		return nil, ErrClosed
	}
	s.session = cs
	return cs, nil
}

// retryable reports whether err is a failure of the connection (worth one
// reconnect) rather than an answer from the server.
func retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, ErrClosed) {
		return false
	}
	var werr *jsonrpc.Error
	return !errors.As(err, &werr)
}

// listed is one tool as the server lists it, with its hash.
type listed struct {
	name, description string
	schema            json.RawMessage
	hash              string
}

// refreshOn lists the tools over cs and applies the pins, then tells
// onChange.
func (s *Server) refreshOn(ctx context.Context, cs *mcp.ClientSession) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if err := s.applyList(ctx, cs); err != nil {
		return err
	}
	if s.onChange != nil {
		s.onChange()
	}
	return nil
}

// applyList is refreshOn under refreshMu.
func (s *Server) applyList(ctx context.Context, cs *mcp.ClientSession) error {
	var all []listed
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("mcp server %q: list tools: %w", s.cfg.Name, err)
		}
		l := listed{name: t.Name, description: t.Description}
		if t.InputSchema != nil {
			b, err := json.Marshal(t.InputSchema)
			if err != nil {
				return fmt.Errorf("mcp server %q: tool %q: input schema: %w", s.cfg.Name, t.Name, err)
			}
			l.schema = b
		}
		h, err := Hash(l.name, l.description, l.schema)
		if err != nil {
			return fmt.Errorf("mcp server %q: tool %q: %w", s.cfg.Name, t.Name, err)
		}
		l.hash = h
		all = append(all, l)
	}

	// Decide each tool's fate outside s.mu: a PinStore may do I/O.
	approved := make([]bool, len(all))
	pinned := make([]string, len(all))
	for i, l := range all {
		full := s.cfg.Name + Separator + l.name
		if !functionName.MatchString(full) {
			s.log.Warn("mcp tool not offered: name is not a valid function name",
				slog.String("server", s.cfg.Name), slog.String("tool", l.name))
			continue
		}
		pin, configured := s.cfg.Pins[l.name]
		if !configured {
			var ok bool
			var err error
			pin, ok, err = s.pins.Get(ctx, s.cfg.Name, l.name)
			if err != nil {
				return fmt.Errorf("mcp server %q: tool %q: read pin: %w", s.cfg.Name, l.name, err)
			}
			if !ok {
				if pin, err = s.pins.PinFirst(ctx, s.cfg.Name, l.name, l.hash); err != nil {
					return fmt.Errorf("mcp server %q: tool %q: pin: %w", s.cfg.Name, l.name, err)
				}
				if pin == l.hash {
					s.log.Info("mcp tool pinned on first sight",
						slog.String("server", s.cfg.Name), slog.String("tool", l.name), slog.String("hash", l.hash))
				}
			}
		}
		approved[i] = pin == l.hash
		pinned[i] = pin
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for i, l := range all {
		full := s.cfg.Name + Separator + l.name
		if !functionName.MatchString(full) {
			continue
		}
		seen[l.name] = true
		t := s.tools[l.name]
		if t == nil {
			t = &mcpTool{srv: s, remote: l.name, name: full}
			s.tools[l.name] = t
		}
		if approved[i] {
			t.state = enabled
			t.description = l.description
			t.parameters = l.schema
			t.hash = l.hash
			t.rejected = ""
			t.pinned = pinned[i]
			t.listedDesc, t.listedParams = "", nil
			continue
		}
		if t.state != disabled || t.rejected != l.hash {
			// Logged once per rejected version, not on every refresh.
			// The hash is what to pin to approve this version.
			s.log.Warn("mcp tool disabled: description or schema differs from its pin",
				slog.String("server", s.cfg.Name), slog.String("tool", l.name),
				slog.String("hash", l.hash), slog.String("pin", pinned[i]))
		}
		t.state = disabled
		t.rejected = l.hash
		t.pinned = pinned[i]
		t.listedDesc, t.listedParams = l.description, l.schema
	}
	for name, t := range s.tools {
		if !seen[name] {
			t.state = gone
		}
	}
	return nil
}

type state int

const (
	enabled state = iota
	disabled
	gone
)

// mcpTool is one tool of a Server. Its fields other than srv, remote and
// name are guarded by srv.mu.
type mcpTool struct {
	srv    *Server
	remote string // the server's name for the tool
	name   string // "<server>__<remote>"

	state       state
	description string          // as last approved
	parameters  json.RawMessage // as last approved
	hash        string          // of the approved version
	rejected    string          // hash of the listed version, when disabled
	pinned      string          // the pin in force
	// listedDesc and listedParams are the listed version, when disabled,
	// for an approver to review.
	listedDesc   string
	listedParams json.RawMessage
}

var _ tool.Tool = (*mcpTool)(nil)

// Name implements tool.Tool.
func (t *mcpTool) Name() string { return t.name }

// Description implements tool.Tool; it is the approved description, never
// a changed one.
func (t *mcpTool) Description() string {
	t.srv.mu.Lock()
	defer t.srv.mu.Unlock()
	return t.description
}

// Parameters implements tool.Tool.
func (t *mcpTool) Parameters() json.RawMessage {
	t.srv.mu.Lock()
	defer t.srv.mu.Unlock()
	if len(t.parameters) == 0 {
		return json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return t.parameters
}

// check returns why the tool may not be called now, or nil.
func (t *mcpTool) check() error {
	t.srv.mu.Lock()
	defer t.srv.mu.Unlock()
	switch {
	case t.srv.closed:
		return ErrClosed
	case t.state == disabled:
		return fmt.Errorf("mcp tool %s: %w", t.name, ErrDisabled)
	case t.state == gone:
		return fmt.Errorf("mcp tool %s: %w", t.name, ErrGone)
	}
	return nil
}

// Call implements tool.Tool. It reconnects once if the connection failed,
// re-checking the pins on the new connection before calling.
func (t *mcpTool) Call(ctx context.Context, c tool.Call) (tool.Result, error) {
	if err := t.check(); err != nil {
		return tool.Result{}, err
	}
	params := &mcp.CallToolParams{Name: t.remote}
	if args := strings.TrimSpace(string(c.Arguments)); args != "" && args != "null" {
		if !strings.HasPrefix(args, "{") || !json.Valid(c.Arguments) {
			return tool.Result{}, fmt.Errorf("mcp tool %s: arguments are not a JSON object", t.name)
		}
		params.Arguments = json.RawMessage(args)
	}
	id := tool.IdentityOf(c.Principal)
	meta := map[string]any{"tenant": id.Tenant, "user": id.User, "key_id": id.KeyID}
	if secret := t.srv.cfg.IdentitySecret.Reveal(); secret != "" {
		meta["signature"] = id.Sign(secret, time.Now())
	}
	params.Meta = mcp.Meta{tool.MetaKey: meta}
	// Only the call itself carries the identity: a reconnect it causes
	// opens a session shared by every caller.
	callCtx := context.WithValue(ctx, identityKey{}, id)
	cs, err := t.srv.current(ctx)
	if err != nil {
		return tool.Result{}, err
	}
	res, err := cs.CallTool(callCtx, params)
	if retryable(ctx, err) {
		if cs, err = t.srv.redial(ctx, cs); err != nil {
			return tool.Result{}, err
		}
		if err := t.srv.refreshOn(ctx, cs); err != nil {
			return tool.Result{}, err
		}
		if err := t.check(); err != nil {
			return tool.Result{}, err
		}
		res, err = cs.CallTool(callCtx, params)
	}
	if err != nil {
		return tool.Result{}, fmt.Errorf("mcp tool %s: %w", t.name, err)
	}
	return tool.Result{
		Output:  output(res),
		IsError: res.IsError,
		Meta:    map[string]any{"server": t.srv.cfg.Name, "tool": t.remote},
	}, nil
}

// output joins a result's text content; a result with structured content
// only is given as its JSON.
func output(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			return string(b)
		}
	}
	return strings.Join(parts, "\n")
}

// identityKey marks a tool call's context with the caller's identity,
// for headerTransport. The SDK sends a request with the context of the
// call that made it (ClientSession.CallTool's ctx reaches
// http.NewRequestWithContext), so concurrent calls over one session each
// carry their own caller.
type identityKey struct{}

// headerTransport adds the configured headers, and on a tool call the
// caller's identity headers, to every request to a Streamable HTTP
// server — and only to it: a redirect elsewhere does not take the
// credentials or the identity along.
type headerTransport struct {
	base   http.RoundTripper
	host   string
	scheme string
	header http.Header
	secret string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// Only to the configured server, by the configured scheme: an https
	// server redirecting to plain http gets no credentials either.
	if r.URL.Host != h.host || (h.scheme != "" && r.URL.Scheme != h.scheme) {
		return h.base.RoundTrip(r)
	}
	id, isCall := r.Context().Value(identityKey{}).(tool.Identity)
	if len(h.header) == 0 && !isCall {
		return h.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	for k, v := range h.header {
		r.Header[k] = v
	}
	if isCall {
		id.SetHeaders(r.Header, h.secret, time.Now())
	}
	return h.base.RoundTrip(r)
}
