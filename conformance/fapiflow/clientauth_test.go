package fapiflow_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// TestClientAuthRefused: the real server refuses a client that authenticates wrongly, and fapi
// reports it as an *fapi.OAuthError invalid_client from the PAR endpoint (not as unavailable),
// without the client assertion in the error text.
func TestClientAuthRefused(t *testing.T) {
	e := need(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		client string
		edit   func(*fapi.Config)
	}{
		{"tls_client_auth with another client's certificate", "tls-mtls-plain", func(c *fapi.Config) {
			c.HTTPClient = e.parties[rsTLS].http
		}},
		{"tls_client_auth without a certificate", "tls-mtls-jarm", func(c *fapi.Config) {
			c.HTTPClient = e.parties["pkjwt-dpop-plain"].http // trusts the CA, presents nothing
		}},
		{"private_key_jwt signed with an unregistered key", "pkjwt-mtls-plain", func(c *fapi.Config) {
			s, err := jws.NewSigner(key, "pkjwt-mtls-plain-sig") // the registered kid, another key
			if err != nil {
				t.Fatal(err)
			}
			c.Signer = s
		}},
		{"private_key_jwt as another client", "pkjwt-dpop-jarm", func(c *fapi.Config) {
			c.Signer = e.parties["pkjwt-mtls-jarm"].signer
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.parties[tc.client].agentConfig(e.srv.Issuer())
			tc.edit(&cfg)
			_, err := newClient(t, cfg).PushAuthorizationRequest(t.Context(), fapi.AuthorizationRequest{})
			var oe *fapi.OAuthError
			if !errors.As(err, &oe) || oe.Endpoint != "par" || oe.Code != "invalid_client" || oe.Status != http.StatusUnauthorized {
				t.Fatalf("PushAuthorizationRequest: %v, want invalid_client (401)", err)
			}
			if errors.Is(err, fapi.ErrUnavailable) || strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error %q: unavailable or carrying a JWT", err)
			}
		})
	}
}
