package golden

import (
	"bytes"
	"net/http"
	"strconv"
)

// recorder is a minimal http.ResponseWriter for rendering errors.
type recorder struct {
	h    http.Header
	b    *bytes.Buffer
	code int
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(p []byte) (int, error) { return r.b.Write(p) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

func http_(code int) string { return strconv.Itoa(code) }
