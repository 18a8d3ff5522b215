package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/tool/mcptool"
	"github.com/causeway-ai/causeway/internal/tool/sandbox"
)

// Server-side tools are install-wide: the admin API lists and approves
// them for every tenant, whatever ?tenant= says.

// Tool kinds in ToolView.
const (
	toolKindHTTP    = "http"
	toolKindMCP     = "mcp"
	toolKindSandbox = "sandbox"
	toolKindOther   = "other"
)

// adminApprover is recorded as the approver of a pin approved with the
// bootstrap admin key.
const adminApprover = "admin"

// ToolView is one server-side tool in GET /admin/v1/tools.
type ToolView struct {
	Object string `json:"object"`
	// Name is what a request and a key's tools list call it.
	Name string `json:"name"`
	// Kind is "http", "mcp" or "sandbox".
	Kind string `json:"kind"`
	// Server is an MCP tool's server.
	Server string `json:"server,omitempty"`
	// Status is "enabled", or "disabled_changed" for an MCP tool whose
	// description or schema differs from its pin.
	Status string `json:"status"`
	// Description is what the model is told (the approved version).
	Description string `json:"description"`
	// PinnedHash and CurrentHash are an MCP tool's approved hash and the
	// hash of the version its server lists now.
	PinnedHash  string `json:"pinned_hash,omitempty"`
	CurrentHash string `json:"current_hash,omitempty"`
	// PinnedIn is "store" (approve through this API) or "config" (the
	// server's pins in the configuration).
	PinnedIn   string     `json:"pinned_in,omitempty"`
	ApprovedBy string     `json:"approved_by,omitempty"`
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	// NewDescription and NewParameters are a changed MCP tool's listed
	// version: what approving enables.
	NewDescription *string          `json:"new_description,omitempty"`
	NewParameters  *json.RawMessage `json:"new_parameters,omitempty"`
}

// ApproveToolRequest is the optional body of POST
// /admin/v1/tools/{name}/approve.
type ApproveToolRequest struct {
	// Hash, if set, must be the tool's current hash: the version the
	// admin reviewed.
	Hash string `json:"hash"`
}

func (s *Server) registerAdminTools(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/tools", s.admin(s.listTools))
	mux.HandleFunc("POST /admin/v1/tools/{name}/approve", s.admin(s.approveTool))
}

func (s *Server) listTools(w http.ResponseWriter, r *http.Request, _ string) error {
	pins, err := s.pinsByTool(r)
	if err != nil {
		return err
	}
	t := s.tools
	data := []ToolView{}
	mcpNames := map[string]bool{}
	for _, srv := range t.mcpServers() {
		for _, st := range srv.Status() {
			mcpNames[st.Name] = true
			data = append(data, mcpView(srv.Name(), st, pins))
		}
	}
	for _, name := range t.reg.Names() {
		if mcpNames[name] {
			continue
		}
		tl, ok := t.reg.Get(name)
		if !ok {
			continue
		}
		kind := toolKindOther
		switch {
		case t.http[name] != nil:
			kind = toolKindHTTP
		case name == sandbox.Name:
			kind = toolKindSandbox
		case t.isMCP(name):
			// An MCP tool enabled after the listing above.
			continue
		}
		data = append(data, ToolView{Object: "tool", Name: name, Kind: kind, Status: mcptool.StatusEnabled, Description: tl.Description()})
	}
	sort.Slice(data, func(i, j int) bool { return data[i].Name < data[j].Name })
	writeJSON(w, http.StatusOK, struct {
		Object string     `json:"object"`
		Data   []ToolView `json:"data"`
	}{Object: "list", Data: data})
	return nil
}

// pinsByTool returns the stored pins by "server/tool".
func (s *Server) pinsByTool(r *http.Request) (map[string]store.ToolPin, error) {
	all, err := s.store.ToolPins(r.Context())
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.ToolPin, len(all))
	for _, p := range all {
		out[p.Server+"/"+p.Tool] = p
	}
	return out, nil
}

func mcpView(server string, st mcptool.ToolStatus, pins map[string]store.ToolPin) ToolView {
	v := ToolView{Object: "tool", Name: st.Name, Kind: toolKindMCP, Server: server, Status: st.Status,
		Description: st.Description, PinnedHash: st.PinnedHash, CurrentHash: st.CurrentHash, PinnedIn: "store"}
	if st.ConfigPinned {
		v.PinnedIn = "config"
	} else if p, ok := pins[server+"/"+st.Tool]; ok && p.Hash == st.PinnedHash {
		at := p.ApprovedAt
		v.ApprovedBy, v.ApprovedAt = p.ApprovedBy, &at
	}
	if st.Status == mcptool.StatusDisabledChanged {
		d := st.NewDescription
		v.NewDescription = &d
		if len(st.NewParameters) > 0 {
			p := json.RawMessage(st.NewParameters)
			v.NewParameters = &p
		}
	}
	return v
}

func (s *Server) approveTool(w http.ResponseWriter, r *http.Request, _ string) error {
	name := r.PathValue("name")
	body, err := gateway.ReadBody(w, r, 1<<16)
	if err != nil {
		return err
	}
	var req ApproveToolRequest
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return &llm.Error{Kind: llm.KindInvalid, Message: "invalid JSON body: " + err.Error()}
		}
	}
	var srv *mcptool.Server
	var remote string
	for _, m := range s.tools.mcpServers() {
		for _, st := range m.Status() {
			if st.Name == name {
				srv, remote = m, st.Tool
			}
		}
	}
	if srv == nil {
		if _, ok := s.tools.reg.Get(name); ok {
			return (&llm.Error{Kind: llm.KindInvalid, Param: "name",
				Message: "Tool '" + name + "' is not an MCP tool: only MCP tools are pinned and approved."}).WithCode("tool_not_pinned")
		}
		return (&llm.Error{Kind: llm.KindNotFound, Message: "No tool named '" + name + "'."}).WithCode("tool_not_found")
	}
	st, err := srv.Approve(r.Context(), remote, req.Hash, adminApprover)
	switch {
	case errors.Is(err, mcptool.ErrHashMismatch):
		writeConflict(w, "hash", "hash_mismatch", "Tool '"+name+"' now has hash "+st.CurrentHash+
			", not the one given: review its current description (GET /admin/v1/tools) and approve that hash.")
		return nil
	case errors.Is(err, mcptool.ErrConfigPinned):
		writeConflict(w, "name", "pinned_in_config", "Tool '"+name+"' is pinned in the configuration (tools.mcp[].pins): update the pin there.")
		return nil
	case errors.Is(err, mcptool.ErrUnknownTool):
		return (&llm.Error{Kind: llm.KindNotFound, Message: "No tool named '" + name + "'."}).WithCode("tool_not_found")
	case err != nil:
		return &llm.Error{Kind: llm.KindUnavailable, Message: "The tool's MCP server could not be reached to approve it.", Err: err}
	}
	pins, err := s.pinsByTool(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, mcpView(srv.Name(), st, pins))
	return nil
}

// writeConflict writes a 409 in OpenAI's error shape (the error kinds
// have no conflict).
func writeConflict(w http.ResponseWriter, param, code, msg string) {
	writeJSON(w, http.StatusConflict, wire.ErrorBody{Error: wire.ErrorDetail{
		Message: msg, Type: "invalid_request_error", Param: &param, Code: &code}})
}
