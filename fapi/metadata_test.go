package fapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestDiscoverIssuerMismatchTrailingSlash(t *testing.T) {
	as := newFakeAS(t)
	as.meta["issuer"] = as.issuer + "/" // H09: configured without, discovery with
	c := as.client()
	_, err := c.Discover(context.Background())
	wantErr(t, err, ErrMetadata, ErrIssuerMismatch)
	for _, s := range []string{`"` + as.issuer + `/"`, `"` + as.issuer + `"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not show %s", err, s)
		}
	}
	// No later call may proceed with this AS.
	_, err = c.PushAuthorizationRequest(context.Background(), AuthorizationRequest{})
	wantErr(t, err, ErrIssuerMismatch)
	if n := len(as.requests("/par")); n != 0 {
		t.Fatalf("PAR called %d times after issuer mismatch", n)
	}
}

func TestDiscoverIssuerSuffix(t *testing.T) {
	as := newFakeAS(t)
	as.meta["issuer"] = as.issuer + "INVALID" // suite module discovery-issuer-mismatch
	_, err := as.client().Discover(context.Background())
	wantErr(t, err, ErrIssuerMismatch)
}

func TestDiscoverRefusesHTTPEndpoint(t *testing.T) {
	for _, name := range []string{"token_endpoint", "jwks_uri", "pushed_authorization_request_endpoint", "authorization_endpoint"} {
		t.Run(name, func(t *testing.T) {
			as := newFakeAS(t)
			as.meta[name] = strings.Replace(as.meta[name].(string), "https://", "http://", 1)
			_, err := as.client().Discover(context.Background())
			wantErr(t, err, ErrMetadata, ErrInsecureURL)
		})
	}
	t.Run("alias", func(t *testing.T) {
		as := newFakeAS(t)
		as.meta["mtls_endpoint_aliases"] = map[string]string{"token_endpoint": "http://mtls.example.test/token"}
		_, err := as.client().Discover(context.Background())
		wantErr(t, err, ErrInsecureURL)
	})
}

func TestNewClientRefusesHTTPIssuer(t *testing.T) {
	as := newFakeAS(t)
	cfg := as.config()
	cfg.Issuer = "http://as.example.test"
	cfg.RedirectURI = "http://app.example.test/cb"
	_, err := NewClient(cfg)
	wantErr(t, err, ErrConfig, ErrInsecureURL)
	if !strings.Contains(err.Error(), "redirect uri") {
		t.Errorf("errors.Join should report every problem: %v", err)
	}
}

func TestDiscoverMTLSAliases(t *testing.T) {
	as := newFakeAS(t)
	as.meta["mtls_endpoint_aliases"] = map[string]string{
		"token_endpoint":                        as.issuer + "/mtls/token",
		"pushed_authorization_request_endpoint": as.issuer + "/mtls/par",
		"introspection_endpoint":                as.issuer + "/mtls/introspect",
	}
	m, err := as.client(func(c *Config) { c.UseMTLSAliases = true }).Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.TokenEndpoint != as.issuer+"/mtls/token" || m.PushedAuthorizationRequestEndpoint != as.issuer+"/mtls/par" ||
		m.IntrospectionEndpoint != as.issuer+"/mtls/introspect" {
		t.Errorf("aliases not applied: %+v", m)
	}
	if m.UserinfoEndpoint != as.issuer+"/me" || m.AuthorizationEndpoint != as.issuer+"/auth" {
		t.Errorf("non-aliased endpoints changed: %+v", m)
	}
	m, err = as.client().Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.TokenEndpoint != as.issuer+"/token" {
		t.Errorf("aliases applied without UseMTLSAliases: %s", m.TokenEndpoint)
	}
}

func TestDiscoverAliasUsedByCalls(t *testing.T) {
	as := newFakeAS(t)
	as.meta["mtls_endpoint_aliases"] = map[string]string{"revocation_endpoint": as.issuer + "/mtls/revoke"}
	as.handle("/mtls/revoke", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	c := as.client(func(c *Config) { c.UseMTLSAliases = true; c.AuthMethod = AuthTLSClientAuth })
	if err := c.Revoke(context.Background(), "rt-1", "refresh_token"); err != nil {
		t.Fatal(err)
	}
	if len(as.requests("/mtls/revoke")) != 1 || len(as.requests("/revoke")) != 0 {
		t.Fatal("revocation did not go to the mTLS alias")
	}
}

func TestDiscoverRFC8414Fallback(t *testing.T) {
	as := newFakeAS(t)
	as.handle(wellKnownOIDC, http.NotFound)
	as.handle(wellKnownOAuth, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, as.meta) })
	if _, err := as.client().Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoveryURLs(t *testing.T) {
	for _, tc := range []struct{ issuer, oidc, oauth string }{
		{"https://as.example", "https://as.example/.well-known/openid-configuration", "https://as.example/.well-known/oauth-authorization-server"},
		{"https://h/test/a/x/", "https://h/test/a/x/.well-known/openid-configuration", "https://h/.well-known/oauth-authorization-server/test/a/x/"},
		{"https://h/tenant", "https://h/tenant/.well-known/openid-configuration", "https://h/.well-known/oauth-authorization-server/tenant"},
	} {
		if got := oidcDiscoveryURL(tc.issuer); got != tc.oidc {
			t.Errorf("oidc(%s) = %s", tc.issuer, got)
		}
		if got := oauthDiscoveryURL(tc.issuer); got != tc.oauth {
			t.Errorf("oauth(%s) = %s", tc.issuer, got)
		}
	}
}

func TestDiscoverErrors(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"500":       func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) },
		"not json":  func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) },
		"duplicate": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"issuer":"a","issuer":"b"}`)) },
	} {
		t.Run(name, func(t *testing.T) {
			as := newFakeAS(t)
			as.handle(wellKnownOIDC, h)
			_, err := as.client().Discover(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
	as := newFakeAS(t)
	as.handle(wellKnownOIDC, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	_, err := as.client().Discover(context.Background())
	wantErr(t, err, ErrUnavailable)
}

func TestNoRedirectsFollowed(t *testing.T) {
	as := newFakeAS(t)
	as.handle(wellKnownOIDC, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://evil.example/.well-known/openid-configuration", http.StatusFound)
	})
	cfg := as.config()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Discover(context.Background())
	wantErr(t, err, ErrUnexpectedResponse)
	if cfg.HTTPClient.CheckRedirect != nil {
		t.Error("caller's http.Client was modified")
	}
}
