// Package identity holds Causeway's principals and virtual keys: who is
// calling, on behalf of which tenant, team and user, and what they may do.
//
// It never stores or logs a key in clear text: only its SHA-256 hash and a
// short display prefix leave GenerateKey.
package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"slices"
	"time"
)

// DefaultTenant is the tenant of keys created without one.
const DefaultTenant = "default"

// KeyPrefix starts every Causeway virtual key.
const KeyPrefix = "sk-cw-"

// Key is a stored virtual key. Its secret is never held here, only Hash.
type Key struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	Team   string `json:"team,omitempty"`
	User   string `json:"user,omitempty"`
	// Hash is the hex SHA-256 of the full key.
	Hash string `json:"-"`
	// Prefix is the first characters of the key, for display.
	Prefix string `json:"prefix"`
	// Models lists the model aliases the key may use; empty means all.
	Models []string `json:"models"`
	// BudgetNanoUSD is the spend budget in billionths of a US dollar;
	// 0 means no budget.
	BudgetNanoUSD int64 `json:"-"`
	// Regions restricts where the key's requests are served: only targets
	// in these regions are used, even on fallback. Empty means anywhere.
	Regions []string `json:"regions,omitempty"`
	// Tools lists the server-side tools (by name) the key's responses may
	// have executed; empty means none.
	Tools []string `json:"tools,omitempty"`
	// RPM and TPM are request and token rate limits per minute; 0 = none.
	RPM       int        `json:"rpm,omitempty"`
	TPM       int        `json:"tpm,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Revoked reports whether the key has been revoked.
func (k *Key) Revoked() bool { return k.RevokedAt != nil }

// AllowsTool reports whether the key may use the server-side tool.
func (k *Key) AllowsTool(name string) bool { return slices.Contains(k.Tools, name) }

// AllowsModel reports whether the key may use the model alias.
func (k *Key) AllowsModel(alias string) bool {
	return len(k.Models) == 0 || slices.Contains(k.Models, alias)
}

// Secret is a key in clear text. It redacts itself in logs.
type Secret string

// LogValue keeps the secret out of logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String keeps the secret out of %v formatting.
func (Secret) String() string { return "[redacted]" }

// Reveal returns the clear text, for the one response that shows it.
func (s Secret) Reveal() string { return string(s) }

// GenerateKey makes a new random key and returns it with its hash and
// display prefix.
func GenerateKey() (secret Secret, hash, prefix string) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	s := KeyPrefix + encode62(b[:])
	return Secret(s), HashKey(s), s[:len(KeyPrefix)+4]
}

// HashKey returns the hex SHA-256 of a key. Keys are 190 bits of
// randomness, so an unsalted fast hash is the right tool: there is nothing
// to brute-force.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

const alphabet62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// encode62 encodes b in base 62 (without leading-zero preservation, which
// a fixed-length random key does not need).
func encode62(b []byte) string {
	num := slices.Clone(b)
	var out []byte
	for {
		allZero := true
		var rem int
		for i := range num {
			acc := rem<<8 | int(num[i])
			num[i] = byte(acc / 62)
			rem = acc % 62
			if num[i] != 0 {
				allZero = false
			}
		}
		out = append(out, alphabet62[rem])
		if allZero {
			break
		}
	}
	slices.Reverse(out)
	return string(out)
}

// NewID returns a random id with the given prefix, e.g. NewID("key_").
func NewID(prefix string) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	return prefix + encode62(b[:])
}

// Principal is who a request acts for. Every layer below authentication
// takes it; storage scopes every read and write by Tenant.
type Principal struct {
	Tenant string
	Team   string
	User   string
	// Key is the virtual key used, nil for admin principals.
	Key *Key
	// Admin is set for the bootstrap admin key.
	Admin bool
}
