package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/seal"
)

// DPoP-bound sessions use the one deployment key at PAR, token, refresh and
// userinfo (the gateway, configured with the same key, can do the same).
func TestDPoPDeploymentKey(t *testing.T) {
	key := mustSigner(t, testEnv.dpopKey, "")
	ta := newTestAgent(t, func(c *Config) {
		c.FAPI.SenderConstraint = fapi.SenderDPoP
		c.FAPI.DPoPSigner = key
	})
	b := ta.browser(t)
	b.login(false)
	if w := b.do("GET", "userInfo", ""); w.Code != 200 {
		t.Fatalf("userInfo: %d %s", w.Code, w.Body)
	}
	if w := b.do("POST", "refresh", "", b.csrfHeader()...); w.Code != 204 {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	want, _ := jws.Thumbprint(key.Public())
	ta.as.mu.Lock()
	defer ta.as.mu.Unlock()
	for _, ep := range []string{"par", "authorization_code", "refresh_token", "userinfo"} {
		if ta.as.jkts[ep] != want {
			t.Errorf("%s: DPoP key %q, want the deployment key %q", ep, ta.as.jkts[ep], want)
		}
	}
	cfg := baseConfig(t, ta.as, &logBuffer{})
	cfg.FAPI.SenderConstraint = fapi.SenderDPoP
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "DPoPSigner") {
		t.Fatalf("dpop without a key: %v", err)
	}
}

// The server rotates its signing key, twice in a row. fapi's JWKS cache
// fetches the keys again for the first unknown kid, then not for a while;
// the agent's rediscovery covers the second rotation: a JARM response is
// validated again after one forced rediscovery, and a plain login whose ID
// token has the new key fails once, marks the metadata stale, and the next
// login works.
func TestKeyRotationRediscovery(t *testing.T) {
	key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key3, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ta := newTestAgent(t, func(c *Config) {
		c.FAPI.ResponseMode = fapi.ResponseModeJWT
		c.RediscoverInterval = time.Nanosecond
	})
	b := ta.browser(t)
	b.login(true)
	ta.as.setSigner(key2, "as-es256-2")
	b.login(true)
	ta.as.setSigner(key3, "as-es256-3")
	b.login(true)

	tp := newTestAgent(t, func(c *Config) { c.RediscoverInterval = time.Nanosecond })
	p := tp.browser(t)
	p.login(false)
	tp.as.setSigner(key2, "as-es256-2")
	p.login(false)
	tp.as.setSigner(key3, "as-es256-3")
	expectError(t, p.end(tp.as.authorize(p.start(""), false, nil, nil)), 400, "invalid_request")
	p.login(false)

	// Discovery that now names another issuer fails; the old metadata stay.
	tp.as.set(func(as *fakeAS) { as.discIss = "https://other.example" })
	if err := tp.Discover(t.Context()); err == nil {
		t.Fatal("Discover accepted another issuer")
	}
	p.login(false)
}

func TestConfigValidation(t *testing.T) {
	as := newFakeAS(t)
	cases := map[string]func(*Config){
		"no redirect uri":      func(c *Config) { c.FAPI.RedirectURI = "" },
		"http redirect uri":    func(c *Config) { c.FAPI.RedirectURI = "http://app.example.test/cb" },
		"no signer":            func(c *Config) { c.FAPI.Signer = nil },
		"no cookie keys":       func(c *Config) { c.CookieKeys = nil },
		"zero cookie key":      func(c *Config) { c.CookieKeys = []seal.Key{{}} },
		"no origins":           func(c *Config) { c.TrustedOrigins = nil },
		"wildcard origin":      func(c *Config) { c.TrustedOrigins = []string{"*"} },
		"null origin":          func(c *Config) { c.TrustedOrigins = []string{"null"} },
		"origin with path":     func(c *Config) { c.TrustedOrigins = []string{spaOrigin + "/"} },
		"base path slash":      func(c *Config) { c.BasePath = "/oauth-agent/" },
		"base path dots":       func(c *Config) { c.BasePath = "/a/../b" },
		"base path relative":   func(c *Config) { c.BasePath = "oauth-agent" },
		"prefix with ;":        func(c *Config) { c.CookiePrefix = "a;b" },
		"csrf mode":            func(c *Config) { c.CSRF = "none" },
		"short session":        func(c *Config) { c.SessionLifetime = time.Second },
		"compat unknown":       func(c *Config) { c.Compat = "curity-v2" },
		"compat domain":        func(c *Config) { c.Compat = CompatCurityV1; c.CompatDomain = "a b" },
		"compat path":          func(c *Config) { c.Compat = CompatCurityV1; c.CompatPath = "x" },
		"reserved extra param": func(c *Config) { c.ExtraParams = []string{"prompt", "nonce"} },
		"http issuer":          func(c *Config) { c.FAPI.Issuer = "http://as.example.test" },
	}
	for name, edit := range cases {
		cfg := baseConfig(t, as, &logBuffer{})
		edit(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	a, err := New(baseConfig(t, as, &logBuffer{}))
	if err != nil || a.BasePath() != DefaultBasePath || a.csrfHeader != "X-Fapid-Csrf" {
		t.Fatalf("defaults: %v", err)
	}
}

// The captured log of a full lifecycle, refusals included, holds no token,
// code, cookie value, CSRF token or key.
func TestLogsHoldNoSecrets(t *testing.T) {
	for _, jarm := range []bool{false, true} {
		ta := newTestAgent(t, func(c *Config) {
			if jarm {
				c.FAPI.ResponseMode = fapi.ResponseModeJWT
			}
		})
		b := ta.browser(t)
		start := b.start(`{"extraParams":[{"key":"login_hint","value":"alice@example.test"}]}`)
		secrets := []string{cookieKeyA, b.cookies["__Host-fapid-login"]}
		var ld loginData
		decodeJSON(t, b.open("login"), &ld)
		secrets = append(secrets, ld.Login.CodeVerifier, ld.Login.Nonce, ld.Login.State)
		cb := ta.as.authorize(start, jarm, nil, nil)
		secrets = append(secrets, cb[strings.Index(cb, "?")+1:])
		w := b.end(cb)
		var le loginEndResponse
		decodeJSON(t, w.Body.Bytes(), &le)
		b.csrf = le.CSRF
		for _, k := range []string{"at", "rt", "id", "csrf"} {
			secrets = append(secrets, string(b.open(k)))
		}
		for _, v := range b.cookies {
			secrets = append(secrets, v)
		}
		b.do("GET", "session", "")
		b.do("GET", "userInfo", "")
		b.do("GET", "claims", "")
		b.do("POST", "refresh", "", "x-fapid-csrf", "wrong")
		b.do("POST", "refresh", "", b.csrfHeader()...)
		for _, k := range []string{"at", "rt", "id"} {
			secrets = append(secrets, string(b.open(k)))
		}
		for _, v := range b.cookies {
			secrets = append(secrets, v)
		}
		b.end(cb) // replay: refused
		b.do("POST", "logout", "", b.csrfHeader()...)
		logs := ta.logs.String()
		if !strings.Contains(logs, "login completed") || !strings.Contains(logs, "agent request refused") {
			t.Fatalf("log lacks the expected events:\n%s", logs)
		}
		noSecrets(t, "log", logs, secrets...)
	}
}
