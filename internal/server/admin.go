package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	oaidoor "github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/store"
)

// The admin API speaks JSON with OpenAI's error shape, so one client
// library handles both.

func (s *Server) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/v1/keys", s.admin(s.createKey))
	mux.HandleFunc("GET /admin/v1/keys", s.admin(s.listKeys))
	mux.HandleFunc("GET /admin/v1/keys/{id}", s.admin(s.getKey))
	mux.HandleFunc("DELETE /admin/v1/keys/{id}", s.admin(s.revokeKey))
	mux.HandleFunc("GET /admin/v1/usage", s.admin(s.usage))
	mux.HandleFunc("GET /admin/v1/targets", s.admin(s.targets))
	s.registerAdminTools(mux)
}

// admin authorises a handler with the bootstrap admin key. The tenant is
// the default one, or the one named by ?tenant=.
func (s *Server) admin(h func(w http.ResponseWriter, r *http.Request, tenant string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminKey.Reveal() == "" {
			oaidoor.WriteError(w, &llm.Error{Kind: llm.KindPermission, Code: "admin_disabled",
				Message: "The admin API is disabled: set CAUSEWAY_ADMIN_KEY (or admin_key in the config)."})
			return
		}
		if !s.gw.IsAdmin(gateway.BearerToken(r)) {
			oaidoor.WriteError(w, &llm.Error{Kind: llm.KindUnauthenticated, Code: "invalid_admin_key",
				Message: "The admin API needs Authorization: Bearer <CAUSEWAY_ADMIN_KEY>."})
			return
		}
		tenant := r.URL.Query().Get("tenant")
		if tenant == "" {
			tenant = identity.DefaultTenant
		}
		if err := h(w, r, tenant); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = (&llm.Error{Kind: llm.KindNotFound, Message: "No such object."}).WithCode("not_found")
			}
			oaidoor.WriteError(w, err)
		}
	}
}

// KeyRequest is the body of POST /admin/v1/keys.
type KeyRequest struct {
	Name      string   `json:"name"`
	Team      string   `json:"team"`
	User      string   `json:"user"`
	Models    []string `json:"models"`
	Regions   []string `json:"regions"`
	Tools     []string `json:"tools"`
	BudgetUSD *float64 `json:"budget_usd"`
	RPM       int      `json:"rpm"`
	TPM       int      `json:"tpm"`
}

// KeyView is a key as the admin API shows it. Key (the secret) is set only
// in the response that creates it.
type KeyView struct {
	ID        string     `json:"id"`
	Object    string     `json:"object"`
	Key       string     `json:"key,omitempty"`
	Prefix    string     `json:"prefix"`
	Tenant    string     `json:"tenant"`
	Name      string     `json:"name"`
	Team      string     `json:"team,omitempty"`
	User      string     `json:"user,omitempty"`
	Models    []string   `json:"models"`
	Regions   []string   `json:"regions"`
	Tools     []string   `json:"tools"`
	BudgetUSD *float64   `json:"budget_usd"`
	SpentUSD  *float64   `json:"spent_usd,omitempty"`
	RPM       int        `json:"rpm"`
	TPM       int        `json:"tpm"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func viewOf(k *identity.Key) KeyView {
	v := KeyView{ID: k.ID, Object: "key", Prefix: k.Prefix, Tenant: k.Tenant, Name: k.Name, Team: k.Team, User: k.User,
		Models: k.Models, Regions: k.Regions, Tools: k.Tools, RPM: k.RPM, TPM: k.TPM, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
	if v.Models == nil {
		v.Models = []string{}
	}
	if v.Regions == nil {
		v.Regions = []string{}
	}
	if v.Tools == nil {
		v.Tools = []string{}
	}
	if k.BudgetNanoUSD > 0 {
		b := billing.USD(k.BudgetNanoUSD)
		v.BudgetUSD = &b
	}
	return v
}

func decodeJSON(r *http.Request, w http.ResponseWriter, v any) error {
	body, err := gateway.ReadBody(w, r, 1<<20)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &llm.Error{Kind: llm.KindInvalid, Message: "invalid JSON body: " + err.Error()}
	}
	return nil
}

// CreateKey validates req and stores a new key for tenant, returning the
// stored key and its secret (shown once).
func CreateKey(r *http.Request, st *store.Store, gw *gateway.Gateway, tenant string, req KeyRequest) (*identity.Key, identity.Secret, error) {
	if strings.TrimSpace(req.Name) == "" {
		return nil, "", &llm.Error{Kind: llm.KindInvalid, Param: "name", Message: "name is required"}
	}
	if req.BudgetUSD != nil && *req.BudgetUSD <= 0 {
		return nil, "", &llm.Error{Kind: llm.KindInvalid, Param: "budget_usd", Message: "budget_usd must be positive (omit it for no budget)"}
	}
	if req.RPM < 0 || req.TPM < 0 {
		return nil, "", &llm.Error{Kind: llm.KindInvalid, Param: "rpm", Message: "rpm and tpm must not be negative"}
	}
	for _, m := range req.Models {
		if !gw.Known(m) {
			return nil, "", &llm.Error{Kind: llm.KindInvalid, Param: "models", Message: "unknown model alias " + m}
		}
	}
	secret, hash, prefix := identity.GenerateKey()
	k := &identity.Key{
		ID: identity.NewID("key_"), Tenant: tenant, Name: req.Name, Team: req.Team, User: req.User,
		Hash: hash, Prefix: prefix, Models: req.Models, Regions: req.Regions, Tools: req.Tools, RPM: req.RPM, TPM: req.TPM,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	if req.BudgetUSD != nil {
		k.BudgetNanoUSD = billing.FromUSD(*req.BudgetUSD)
	}
	if err := st.CreateKey(r.Context(), k); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, tenant string) error {
	var req KeyRequest
	if err := decodeJSON(r, w, &req); err != nil {
		return err
	}
	k, secret, err := CreateKey(r, s.store, s.gw, tenant, req)
	if err != nil {
		return err
	}
	v := viewOf(k)
	v.Key = secret.Reveal()
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, tenant string) error {
	keys, err := s.store.ListKeys(r.Context(), tenant)
	if err != nil {
		return err
	}
	out := struct {
		Object string    `json:"object"`
		Data   []KeyView `json:"data"`
	}{Object: "list", Data: make([]KeyView, 0, len(keys))}
	for i := range keys {
		out.Data = append(out.Data, viewOf(&keys[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request, tenant string) error {
	k, err := s.store.GetKey(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := viewOf(k)
	if spent, err := s.meter.Spend(r.Context(), tenant, k.ID); err == nil {
		usd := billing.USD(spent)
		v.SpentUSD = &usd
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, tenant string) error {
	id := r.PathValue("id")
	if err := s.store.RevokeKey(r.Context(), tenant, id, time.Now().UTC()); err != nil {
		return err
	}
	k, err := s.store.GetKey(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	s.gw.ForgetKey(k.Hash)
	writeJSON(w, http.StatusOK, viewOf(k))
	return nil
}

// UsageView is the body of GET /admin/v1/usage.
type UsageView struct {
	Object       string  `json:"object"`
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	// GroupBy and Groups answer ?group_by=: the same totals per
	// conversation, response, tool, model, key or user, costliest first.
	GroupBy string           `json:"group_by,omitempty"`
	Groups  []UsageGroupView `json:"groups,omitempty"`
}

// UsageGroupView is one group of GET /admin/v1/usage?group_by=.
type UsageGroupView struct {
	Key          string  `json:"key"`
	Requests     int64   `json:"requests"`
	Calls        int64   `json:"calls"` // records: upstream attempts or tool calls
	Errors       int64   `json:"errors"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostNanoUSD  int64   `json:"cost_nano_usd"`
	CostUSD      float64 `json:"cost_usd"`
}

var groupBy = []string{billing.GroupConversation, billing.GroupResponse, billing.GroupTool,
	billing.GroupModel, billing.GroupKey, billing.GroupUser}

func (s *Server) usage(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	f := billing.UsageFilter{Tenant: tenant, KeyID: q.Get("key_id"), Team: q.Get("team"), User: q.Get("user"),
		ResponseID: q.Get("response_id"), ConversationID: q.Get("conversation_id")}
	by := q.Get("group_by")
	if by != "" && !slices.Contains(groupBy, by) {
		return &llm.Error{Kind: llm.KindInvalid, Param: "group_by", Message: "group_by must be one of " + strings.Join(groupBy, ", ")}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return &llm.Error{Kind: llm.KindInvalid, Param: "limit", Message: "limit must be an integer between 1 and 1000"}
		}
		limit = n
	}
	var err error
	if f.From, err = parseTime(q.Get("from"), "from"); err != nil {
		return err
	}
	if f.To, err = parseTime(q.Get("to"), "to"); err != nil {
		return err
	}
	// Usage is buffered briefly; make what this replica recorded visible.
	s.meter.Flush(r.Context())
	sum, err := s.store.UsageSummary(r.Context(), f)
	if err != nil {
		return err
	}
	v := UsageView{Object: "usage", Requests: sum.Requests, InputTokens: sum.InputTokens,
		OutputTokens: sum.OutputTokens, CostUSD: billing.USD(sum.CostNanoUSD)}
	if by != "" {
		groups, err := s.store.UsageGroups(r.Context(), f, by, limit)
		if err != nil {
			return err
		}
		v.GroupBy, v.Groups = by, make([]UsageGroupView, len(groups))
		for i, g := range groups {
			v.Groups[i] = UsageGroupView{Key: g.Key, Requests: g.Requests, Calls: g.Records, Errors: g.Errors,
				InputTokens: g.InputTokens, OutputTokens: g.OutputTokens, CostNanoUSD: g.CostNanoUSD, CostUSD: billing.USD(g.CostNanoUSD)}
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// parseTime accepts RFC 3339 times and YYYY-MM-DD dates.
func parseTime(v, param string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, &llm.Error{Kind: llm.KindInvalid, Param: param, Message: param + " must be an RFC 3339 time or a YYYY-MM-DD date"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		oaidoor.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// TargetView is one target's routing state in GET /admin/v1/targets.
type TargetView struct {
	Provider      string     `json:"provider"`
	UpstreamModel string     `json:"upstream_model"`
	Region        string     `json:"region,omitempty"`
	State         string     `json:"state"`
	EjectedUntil  *time.Time `json:"ejected_until,omitempty"`
	Ejections     int64      `json:"ejections"`
	LatencyMS     float64    `json:"latency_ewma_ms"`
	Inflight      int64      `json:"inflight"`
}

// AliasView is one alias in GET /admin/v1/targets.
type AliasView struct {
	Model    string       `json:"model"`
	Strategy string       `json:"strategy"`
	Targets  []TargetView `json:"targets"`
}

func (s *Server) targets(w http.ResponseWriter, r *http.Request, _ string) error {
	now := time.Now()
	out := struct {
		Object string      `json:"object"`
		Data   []AliasView `json:"data"`
	}{Object: "list", Data: []AliasView{}}
	for _, a := range *s.aliases.Load() {
		av := AliasView{Model: a.Name, Strategy: string(a.Pool.Strategy), Targets: []TargetView{}}
		for i, t := range a.Targets {
			h := a.Pool.Members[i].Health
			tv := TargetView{Provider: t.Provider.Name(), UpstreamModel: t.Model, Region: t.Region,
				State: h.State(now).String(), Ejections: h.Ejections(),
				LatencyMS: float64(h.Latency().Microseconds()) / 1000, Inflight: h.Inflight()}
			if u := h.EjectedUntil(); !u.IsZero() {
				tv.EjectedUntil = &u
			}
			av.Targets = append(av.Targets, tv)
		}
		out.Data = append(out.Data, av)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
