package gateway

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
)

// A key's rpm and tpm limits, per replica: a request is admitted while the
// key has request and token allowance left; tokens are charged after the
// call with what it actually used, so one large answer can run the
// allowance into debt that later requests wait out. (Limits shared across
// replicas, in Redis, come with the security work.)

type bucket struct {
	tokens float64
	last   time.Time
}

// refill adds what perMinute earns since last, capped at perMinute.
func (b *bucket) refill(now time.Time, perMinute float64) {
	if !b.last.IsZero() {
		b.tokens = math.Min(perMinute, b.tokens+now.Sub(b.last).Minutes()*perMinute)
	} else {
		b.tokens = perMinute
	}
	b.last = now
}

type keyLimits struct {
	mu       sync.Mutex
	requests bucket
	tokens   bucket
}

func (g *Gateway) keyLimits(id string) *keyLimits {
	v, _ := g.limits.LoadOrStore(id, &keyLimits{})
	return v.(*keyLimits)
}

// admitRate refuses a request when the key is over its rpm or tpm.
func (g *Gateway) admitRate(k *identity.Key, now time.Time) error {
	if k == nil || (k.RPM <= 0 && k.TPM <= 0) {
		return nil
	}
	l := g.keyLimits(k.ID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.TPM > 0 {
		l.tokens.refill(now, float64(k.TPM))
		if l.tokens.tokens <= 0 {
			wait := time.Duration(-l.tokens.tokens/float64(k.TPM)*float64(time.Minute)) + time.Second
			return &llm.Error{Kind: llm.KindRateLimited, Code: "rate_limit_exceeded", RetryAfter: wait,
				Message: "This key has used its " + strconv.Itoa(k.TPM) + " tokens per minute."}
		}
	}
	if k.RPM > 0 {
		l.requests.refill(now, float64(k.RPM))
		if l.requests.tokens < 1 {
			wait := time.Duration((1 - l.requests.tokens) / float64(k.RPM) * float64(time.Minute))
			return &llm.Error{Kind: llm.KindRateLimited, Code: "rate_limit_exceeded", RetryAfter: max(wait, time.Second),
				Message: "This key has made its " + strconv.Itoa(k.RPM) + " requests per minute."}
		}
		l.requests.tokens--
	}
	return nil
}

// chargeTokens takes a call's tokens from the key's tpm allowance.
func (g *Gateway) chargeTokens(k *identity.Key, u llm.Usage) {
	if k == nil || k.TPM <= 0 {
		return
	}
	l := g.keyLimits(k.ID)
	l.mu.Lock()
	l.tokens.refill(time.Now(), float64(k.TPM))
	l.tokens.tokens -= float64(u.InputTokens + u.CacheWriteTokens + u.OutputTokens)
	l.mu.Unlock()
}
