package llm

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the closed set of error kinds every layer uses. Each front door
// maps a Kind to its own status code and error shape in one place.
type Kind uint8

const (
	KindInternal Kind = iota
	// KindInvalid: the request is malformed or has a bad field (400).
	KindInvalid
	// KindUnauthenticated: no key, or an unknown or revoked one (401).
	KindUnauthenticated
	// KindPermission: the principal may not do this (403).
	KindPermission
	// KindNotFound: no such model or object (404).
	KindNotFound
	// KindTooLarge: the request body exceeds the limit (413).
	KindTooLarge
	// KindRateLimited: a rate limit was hit, here or upstream (429).
	KindRateLimited
	// KindBudgetExceeded: the spend budget is exhausted (429).
	KindBudgetExceeded
	// KindUpstream: the upstream failed or sent garbage (502).
	KindUpstream
	// KindUnavailable: no upstream could be reached (502/503).
	KindUnavailable
	// KindTimeout: the upstream did not answer in time (504).
	KindTimeout
	// KindCanceled: the client went away.
	KindCanceled
	// KindNoRoute: no target may serve the request (all down, or none in
	// the regions the caller is restricted to) (503).
	KindNoRoute
)

var kindNames = [...]string{
	KindInternal:        "internal",
	KindInvalid:         "invalid",
	KindUnauthenticated: "unauthenticated",
	KindPermission:      "permission",
	KindNotFound:        "not_found",
	KindTooLarge:        "too_large",
	KindRateLimited:     "rate_limited",
	KindBudgetExceeded:  "budget_exceeded",
	KindUpstream:        "upstream",
	KindUnavailable:     "unavailable",
	KindTimeout:         "timeout",
	KindCanceled:        "canceled",
	KindNoRoute:         "no_route",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is an error with a Kind, a client-facing message and optional
// details. Messages never contain secrets.
type Error struct {
	Kind Kind
	// Code is a machine-readable code such as "model_not_found".
	Code string
	// Param names the offending request field, when there is one.
	Param string
	// Message is safe to show the client.
	Message string
	// Status is the upstream HTTP status, when the error came from one.
	Status int
	// RetryAfter is the upstream's Retry-After, when it gave one.
	RetryAfter time.Duration
	// Err is the underlying cause, for logs.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted message.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// WithCode sets Code and returns e.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

// WithParam sets Param and returns e.
func (e *Error) WithParam(p string) *Error { e.Param = p; return e }

// KindOf returns the Kind of err, KindInternal for errors without one.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindInternal
}

// AsError returns err as an *Error, wrapping it as internal if needed.
func AsError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return &Error{Kind: KindInternal, Message: "internal error", Err: err}
}
