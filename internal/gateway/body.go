package gateway

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/causeway-ai/causeway/internal/llm"
)

// ReadBody reads a request body of at most limit bytes. A body announced
// as larger is refused before any of it is read; one that turns out larger
// is refused as soon as it passes the limit.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	var b []byte
	if r.ContentLength > 0 {
		b = make([]byte, 0, r.ContentLength)
	} else {
		b = make([]byte, 0, 4096)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, tooLarge(limit)
			}
			return nil, &llm.Error{Kind: llm.KindInvalid, Message: "could not read the request body", Err: err}
		}
	}
}

func tooLarge(limit int64) error {
	return (&llm.Error{Kind: llm.KindTooLarge,
		Message: "The request body is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes."}).WithCode("request_too_large")
}

// BearerToken returns the token of an "Authorization: Bearer …" header,
// or "".
func BearerToken(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}
