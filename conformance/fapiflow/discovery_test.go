package fapiflow_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cillers/fapid/fapi"
)

// TestDiscoveryIssuer: the real server's discovery document is accepted only for the issuer it
// names, byte for byte (FAPI 2.0 SP 5.3.3.1-11, RFC 8414 §3.3). A configured issuer that
// differs only in a trailing slash, the host spelling or the scheme's case fetches the same
// document and is refused with ErrIssuerMismatch — by Discover and by the first call that
// discovers implicitly, before anything is sent to the PAR endpoint.
func TestDiscoveryIssuer(t *testing.T) {
	e := need(t)
	iss := e.srv.Issuer()
	p := e.parties[variants[0].client]
	for _, tc := range []struct {
		name, issuer string
	}{
		{"trailing slash", iss + "/"},
		{"host alias", strings.Replace(iss, "127.0.0.1", "localhost", 1)},
		{"upper-case scheme", "HTTPS" + strings.TrimPrefix(iss, "https")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.issuer == iss {
				t.Fatalf("test issuer %q equals the server's", tc.issuer)
			}
			c := newClient(t, p.agentConfig(tc.issuer))
			_, err := c.Discover(t.Context())
			if !errors.Is(err, fapi.ErrIssuerMismatch) || !errors.Is(err, fapi.ErrMetadata) {
				t.Fatalf("Discover with issuer %q: %v, want ErrIssuerMismatch", tc.issuer, err)
			}
			if _, err := c.PushAuthorizationRequest(t.Context(), fapi.AuthorizationRequest{}); !errors.Is(err, fapi.ErrIssuerMismatch) {
				t.Errorf("PushAuthorizationRequest after a failed discovery: %v, want ErrIssuerMismatch", err)
			}
			if _, err := c.Metadata(t.Context()); !errors.Is(err, fapi.ErrIssuerMismatch) {
				t.Errorf("Metadata: %v, want ErrIssuerMismatch", err)
			}
		})
	}

	t.Run("unknown issuer path", func(t *testing.T) {
		// Both well-known locations (OIDC, then RFC 8414) answer 404: not a mismatch but an
		// unexpected response, and not "unavailable" (retrying will not help).
		_, err := newClient(t, p.agentConfig(iss+"/tenant")).Discover(t.Context())
		var he *fapi.HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusNotFound || !errors.Is(err, fapi.ErrUnexpectedResponse) ||
			errors.Is(err, fapi.ErrUnavailable) {
			t.Errorf("Discover for an issuer with an unknown path: %v, want HTTPError 404", err)
		}
	})

	t.Run("exact issuer", func(t *testing.T) {
		m, err := newClient(t, p.agentConfig(iss)).Discover(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if m.Issuer != iss || len(m.MTLSEndpointAliases) != 0 || m.JWKSURI != iss+"/jwks" ||
			m.IntrospectionEndpoint != iss+"/token/introspection" || m.RevocationEndpoint != iss+"/token/revocation" ||
			m.UserinfoEndpoint != iss+"/me" || m.AuthorizationEndpoint != iss+"/auth" {
			t.Errorf("metadata %+v", m)
		}
		for _, want := range []struct {
			name string
			got  []string
			has  []string
		}{
			{"response_modes_supported", m.ResponseModesSupported, []string{"jwt", "query"}},
			{"token_endpoint_auth_methods_supported", m.TokenEndpointAuthMethodsSupported, []string{"private_key_jwt", "tls_client_auth"}},
			{"dpop_signing_alg_values_supported", m.DPoPSigningAlgValuesSupported, []string{"ES256", "EdDSA"}},
		} {
			for _, h := range want.has {
				if !slices.Contains(want.got, h) {
					t.Errorf("%s = %v, lacks %q", want.name, want.got, h)
				}
			}
		}
	})
}
