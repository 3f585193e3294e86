package gateway

import (
	"net/http"
	"strings"
	"testing"
)

func TestConfigValidation(t *testing.T) {
	stub := newStub()
	good := func() Config {
		return Config{
			Routes:               []Route{{Prefix: "/api/", Upstream: "https://api.internal", Credentials: []Credential{CredentialBearer}}},
			AuthorizationServers: []AuthorizationServer{{Name: "as", Introspector: stub}},
		}
	}
	if _, err := New(good()); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no routes":         {func(c *Config) { c.Routes = nil }, "no routes"},
		"bad prefix":        {func(c *Config) { c.Routes[0].Prefix = "/api/../x/" }, "canonical"},
		"http upstream":     {func(c *Config) { c.Routes[0].Upstream = "http://api.internal" }, "https"},
		"no credentials":    {func(c *Config) { c.Routes[0].Credentials = nil }, "no credentials"},
		"unknown cred":      {func(c *Config) { c.Routes[0].Credentials = []Credential{"basic"} }, "unknown credential"},
		"cookie w/o sealer": {func(c *Config) { c.Routes[0].Credentials = []Credential{CredentialCookie} }, "cookie needs"},
		"dpop w/o origin":   {func(c *Config) { c.Routes[0].Credentials = []Credential{CredentialDPoP} }, "PublicOrigin"},
		"unknown AS":        {func(c *Config) { c.Routes[0].AuthorizationServer = "b" }, "unknown authorization server"},
		"no AS":             {func(c *Config) { c.AuthorizationServers = nil }, "no authorization server"},
		"AS twice":          {func(c *Config) { c.AuthorizationServers = append(c.AuthorizationServers, c.AuthorizationServers[0]) }, "twice"},
		"mint w/o signer":   {func(c *Config) { c.AuthorizationServers[0].Forward = ForwardMint }, "Signer"},
		"bad origin":        {func(c *Config) { c.TrustedOrigins = []string{"https://app.example.test/"} }, "trusted origin"},
		"bad cookie prefix": {func(c *Config) { c.CookiePrefix = "a;b" }, "cookie prefix"},
		"negative TTL":      {func(c *Config) { c.Cache.NegativeTTL = 60e9 }, "negative TTL"},
		"duplicate prefix":  {func(c *Config) { c.Routes = append(c.Routes, c.Routes[0]) }, "twice"},
		"forward-auth path": {func(c *Config) { c.ForwardAuthPath = "auth" }, "forward-auth"},
		"http public URL":   {func(c *Config) { c.Routes[0].UpstreamPublicURL = "http://api.example.test" }, "upstream public URL must be"},
		"public URL query":  {func(c *Config) { c.Routes[0].UpstreamPublicURL = "https://api.example.test/?a=1" }, "upstream public URL must be"},
		"public URL empty?": {func(c *Config) { c.Routes[0].UpstreamPublicURL = "https://api.example.test/?" }, "upstream public URL must be"},
		"public URL alone":  {func(c *Config) { c.Routes[0].Upstream = ""; c.Routes[0].UpstreamPublicURL = "https://api.example.test" }, "without an upstream"},
	} {
		c := good()
		tc.mod(&c)
		_, err := New(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
	// Anonymous-only gateways need no authorization server.
	c := good()
	c.AuthorizationServers = nil
	c.Routes[0].Anonymous = true
	if _, err := New(c); err != nil {
		t.Fatalf("anonymous only: %v", err)
	}
}

func TestNoRouteAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	expect(t, e.do(req("GET", "/other")), 404)
	expect(t, e.do(req("GET", "/.well-known/jwks.json")), 404) // no Signer: no JWKS
	w := e.do(req("HEAD", "/api/x"))
	expect(t, w, 401)
	expectHeader(t, w.Header(), "Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	if w.Body.Len() != 0 {
		t.Fatal("body on HEAD")
	}
	r := req("GET", "/api/x")
	r.RequestURI = "*"
	expect(t, e.do(r), 400)
	// Upstreams cannot set our cookies; x-fapi-interaction-id is echoed.
	res := &http.Response{Header: http.Header{"Set-Cookie": {"__Host-fapid-at=x; Path=/", "theme=dark"}},
		Request: req("GET", "/api/x", "X-Fapi-Interaction-Id", "c770aef3-6784-41f7-8e0e-ff5f97bddb3a")}
	if err := e.gw.modifyResponse(res); err != nil {
		t.Fatal(err)
	}
	if got := res.Header["Set-Cookie"]; len(got) != 1 || got[0] != "theme=dark" {
		t.Fatalf("Set-Cookie %q", got)
	}
	if res.Header.Get("X-Fapi-Interaction-Id") != "c770aef3-6784-41f7-8e0e-ff5f97bddb3a" {
		t.Fatal("interaction id not echoed")
	}
}

func FuzzExtractCredential(f *testing.F) {
	for _, s := range []string{"Bearer " + tokenA, "bearer  " + tokenA, "DPoP a.b.c-defghijklmnop", "Bearer ", "Basic dXNlcjpwYXNz",
		"Bearer " + strings.Repeat(".", 100), "Bearer abc==def0123456789", "Bearer abcdefghijklmnopqrs=="} {
		f.Add(s)
	}
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, v string) {
		r := req("GET", "/api/x")
		r.Header["Authorization"] = []string{v}
		cred, ae := e.gw.extract(&request{r: r, method: "GET"}, acceptBearer|acceptDPoP|acceptCookie)
		if ae != nil {
			if ae.status != 400 && ae.status != 401 {
				t.Fatalf("status %d", ae.status)
			}
			return
		}
		if !e.gw.plausibleToken(cred.token) || !strings.HasSuffix(v, cred.token) {
			t.Fatalf("accepted %q from %q", cred.token, v)
		}
		if cred.kind != CredentialBearer && cred.kind != CredentialDPoP {
			t.Fatalf("kind %q", cred.kind)
		}
	})
}
