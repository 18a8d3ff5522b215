package tool

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
)

// Headers a tool server receives with every call over HTTP, naming the
// caller the runtime acts for. The caller's API key is never sent.
const (
	HeaderTenant = "X-Causeway-Tenant"
	HeaderUser   = "X-Causeway-User"
	// HeaderIdentity carries a signature of tenant and user when the tool
	// has an identity_secret: see Identity.Sign.
	HeaderIdentity = "X-Causeway-Identity"
)

// MetaKey is the key of the caller's identity in an MCP request's _meta.
const MetaKey = "causeway.ai/identity"

// Identity is the caller as a tool server sees it: who, never how they
// authenticated.
type Identity struct {
	Tenant string `json:"tenant"`
	// User is the key's user, or empty.
	User string `json:"user"`
	// KeyID is the id (not the secret) of the key used, or empty.
	KeyID string `json:"key_id"`
}

// IdentityOf returns p's identity; a nil p is the empty identity.
func IdentityOf(p *identity.Principal) Identity {
	if p == nil {
		return Identity{}
	}
	id := Identity{Tenant: p.Tenant, User: p.User}
	if p.Key != nil {
		id.KeyID = p.Key.ID
	}
	return id
}

// Sign returns the value of HeaderIdentity for id at time now:
//
//	v1.<unix seconds>.<hex HMAC-SHA256(secret, "v1\n"+ts+"\n"+tenant+"\n"+user)>
//
// A tool server that knows the secret recomputes the MAC and checks the
// time is recent; see Verify.
func (id Identity) Sign(secret string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return "v1." + ts + "." + mac(secret, ts, id.Tenant, id.User)
}

func mac(secret, ts, tenant, user string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v1\n" + ts + "\n" + tenant + "\n" + user))
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify for a signature that does not
// match, is malformed, or is older or newer than the allowed skew.
var ErrBadSignature = errors.New("causeway identity signature invalid")

// Verify checks a HeaderIdentity value against tenant and user as a tool
// server would: the MAC must match and its time be within skew of now.
func Verify(secret, sig, tenant, user string, now time.Time, skew time.Duration) error {
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return ErrBadSignature
	}
	ts, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > skew || d < -skew {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(parts[2]), []byte(mac(secret, parts[1], tenant, user))) {
		return ErrBadSignature
	}
	return nil
}

// SetHeaders sets the identity headers on h, replacing any of the same
// name (a configured header cannot impersonate a caller), and the
// signature when secret is not empty.
func (id Identity) SetHeaders(h http.Header, secret string, now time.Time) {
	h.Set(HeaderTenant, id.Tenant)
	h.Set(HeaderUser, id.User)
	if secret != "" {
		h.Set(HeaderIdentity, id.Sign(secret, now))
	} else {
		h.Del(HeaderIdentity)
	}
}

// IsIdentityHeader reports whether name is one of the identity headers,
// which only the gateway sets.
func IsIdentityHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case HeaderTenant, HeaderUser, HeaderIdentity:
		return true
	}
	return false
}
