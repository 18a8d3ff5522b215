package gemini

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
)

// VertexConfig selects Vertex AI mode: requests go to the project's Google
// publisher models with an OAuth2 access token obtained for a service
// account (the JWT-bearer grant, RFC 7523), refreshed before it expires.
type VertexConfig struct {
	// Project is the Google Cloud project id.
	Project string
	// Region is the location such as "us-central1", or "global".
	Region string
	// CredentialsFile is a service-account JSON key; empty means
	// $GOOGLE_APPLICATION_CREDENTIALS.
	CredentialsFile string
}

// vertexScope is the OAuth2 scope Vertex AI needs.
const vertexScope = "https://www.googleapis.com/auth/cloud-platform"

// serviceAccount is the part of a service-account key file we use.
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

// tokenSource holds the current access token.
type tokenSource struct {
	sa     serviceAccount
	key    *rsa.PrivateKey
	client *http.Client

	mu      sync.Mutex
	tok     string
	expires time.Time
}

func newTokenSource(cfg *VertexConfig, client *http.Client) (*tokenSource, error) {
	path := cfg.CredentialsFile
	if path == "" {
		path = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
	}
	if path == "" {
		return nil, errors.New("vertex: no credentials_file and GOOGLE_APPLICATION_CREDENTIALS is not set")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vertex: reading credentials: %w", err)
	}
	return parseServiceAccount(b, client)
}

func parseServiceAccount(b []byte, client *http.Client) (*tokenSource, error) {
	var sa serviceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return nil, fmt.Errorf("vertex: the credentials file is not JSON: %w", err)
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" {
		return nil, errors.New("vertex: the credentials file is not a service-account key (type service_account with client_email and private_key)")
	}
	if sa.TokenURI == "" {
		sa.TokenURI = "https://oauth2.googleapis.com/token"
	}
	blk, _ := pem.Decode([]byte(sa.PrivateKey))
	if blk == nil {
		return nil, errors.New("vertex: the service account's private_key is not PEM")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("vertex: the service account's private key is not RSA")
		}
		key = rk
	} else if k, err2 := x509.ParsePKCS1PrivateKey(blk.Bytes); err2 == nil {
		key = k
	} else {
		return nil, fmt.Errorf("vertex: parsing the private key: %w", err)
	}
	return &tokenSource{sa: sa, key: key, client: client}, nil
}

// assertion signs the JWT the token endpoint exchanges for a token.
func (ts *tokenSource) assertion(now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": ts.sa.PrivateKeyID})
	claims, _ := json.Marshal(map[string]any{
		"iss": ts.sa.ClientEmail, "scope": vertexScope, "aud": ts.sa.TokenURI,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	signing := enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// token returns a valid access token, fetching a new one when the current
// one expires within a minute.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := time.Now()
	if ts.tok != "" && now.Add(time.Minute).Before(ts.expires) {
		return ts.tok, nil
	}
	jwt, err := ts.assertion(now)
	if err != nil {
		return "", &llm.Error{Kind: llm.KindInternal, Message: "vertex: could not sign the token request", Err: err}
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.sa.TokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", &llm.Error{Kind: llm.KindInternal, Message: "vertex: bad token_uri", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", &llm.Error{Kind: llm.KindUnavailable, Message: "vertex: could not reach the token endpoint", Err: err}
	}
	defer resp.Body.Close()
	b, _ := upstream.ReadAll(resp.Body, 1<<20)
	if resp.StatusCode != http.StatusOK {
		return "", &llm.Error{Kind: llm.KindUpstream, Status: resp.StatusCode,
			Message: "vertex: the token endpoint returned " + strconv.Itoa(resp.StatusCode)}
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if json.Unmarshal(b, &tr) != nil || tr.AccessToken == "" {
		return "", &llm.Error{Kind: llm.KindUpstream, Message: "vertex: the token endpoint returned no access_token"}
	}
	if tr.ExpiresIn <= 0 {
		tr.ExpiresIn = 3600
	}
	ts.tok, ts.expires = tr.AccessToken, now.Add(time.Duration(tr.ExpiresIn)*time.Second)
	return ts.tok, nil
}
