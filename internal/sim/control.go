package sim

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// This file is the control API under /sim/: faults, latency and stats.
// Its errors use the OpenAI error shape, like the rest of the simulator.

func (s *Sim) postFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if e := readStrict(w, r, &f); e != nil {
		e.write(w)
		return
	}
	if err := f.validate(); err != nil {
		invalid("", "", err.Error()).write(w)
		return
	}
	f.ID = s.AddFault(f)
	s.log.Info("sim fault added", slog.Group("fault",
		"id", f.ID, "model", f.Model, "status", f.Status, "count", f.Count))
	writeJSONValue(w, http.StatusCreated, &f)
}

func (s *Sim) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSONValue(w, http.StatusOK, &struct {
		Faults []Fault `json:"faults"`
	}{s.Faults()})
}

func (s *Sim) deleteFaults(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) deleteFault(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.RemoveFault(id) {
		writeOpenAIError(w, http.StatusNotFound, "invalid_request_error", "not_found", "id", "No fault with id '"+id+"'.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// latencyBody is the body of GET and PUT /sim/latency.
type latencyBody struct {
	TTFTMS *int64 `json:"ttft_ms"`
	ITLMS  *int64 `json:"itl_ms"`
}

func (s *Sim) getLatency(w http.ResponseWriter, r *http.Request) {
	ttft, itl := s.Latency()
	writeJSONValue(w, http.StatusOK, &latencyBody{TTFTMS: ptr(ttft.Milliseconds()), ITLMS: ptr(itl.Milliseconds())})
}

func (s *Sim) putLatency(w http.ResponseWriter, r *http.Request) {
	var b latencyBody
	if e := readStrict(w, r, &b); e != nil {
		e.write(w)
		return
	}
	if (b.TTFTMS != nil && *b.TTFTMS < 0) || (b.ITLMS != nil && *b.ITLMS < 0) {
		invalid("", "", "ttft_ms and itl_ms must not be negative").write(w)
		return
	}
	ttft, itl := s.Latency()
	if b.TTFTMS != nil {
		ttft = time.Duration(*b.TTFTMS) * time.Millisecond
	}
	if b.ITLMS != nil {
		itl = time.Duration(*b.ITLMS) * time.Millisecond
	}
	s.SetLatency(ttft, itl)
	s.getLatency(w, r)
}

func (s *Sim) getStats(w http.ResponseWriter, r *http.Request) {
	st := s.Stats()
	writeJSONValue(w, http.StatusOK, &st)
}

func (s *Sim) deleteStats(w http.ResponseWriter, r *http.Request) {
	s.ResetStats()
	w.WriteHeader(http.StatusNoContent)
}

// readStrict decodes a control body, refusing unknown fields so that a
// typo in a fault does not silently become a different fault.
func readStrict(w http.ResponseWriter, r *http.Request, v any) *openAIError {
	body, err := readBody(w, r)
	if err != nil {
		return invalid("", "", "could not read the request body: "+err.Error())
	}
	defer putBody(body)
	dec := json.NewDecoder(bytes.NewReader(body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("", "", "invalid JSON body: "+err.Error())
	}
	return nil
}

func writeJSONValue(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeOpenAIError(w, http.StatusInternalServerError, "server_error", "", "", err.Error())
		return
	}
	writeJSON(w, status, b)
}

func ptr[T any](v T) *T { return &v }
