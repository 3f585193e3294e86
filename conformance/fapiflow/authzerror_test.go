package fapiflow_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/cillers/fapid/fapi"
)

// TestAuthorizationErrorResponse: prompt=none in a browser without a session makes the server
// answer the authorization request with an error (login_required) — in the query with state and
// iss (RFC 9207), or inside a JARM response. HandleCallback checks iss and state (or the JARM
// signature, iss, aud, exp and state) first and then reports the error as an *fapi.OAuthError
// from the front channel (Endpoint "authorization", Status 0).
func TestAuthorizationErrorResponse(t *testing.T) {
	e := need(t)
	for _, v := range variants {
		t.Run(v.client, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := e.agent(t, v.client)
			st, err := c.PushAuthorizationRequest(ctx, fapi.AuthorizationRequest{Extra: map[string]string{"prompt": "none"}})
			if err != nil {
				t.Fatalf("PushAuthorizationRequest: %v\nserver: %s", err, e.stderr.String())
			}
			cb, err := e.srv.Login(ctx, st.URL, testUser)
			if err != nil {
				t.Fatalf("Login: %v\nserver: %s", err, e.stderr.String())
			}
			u, err := url.Parse(cb)
			if err != nil {
				t.Fatal(err)
			}
			if jarm := v.mode == fapi.ResponseModeJWT; jarm != u.Query().Has("response") || !jarm && !u.Query().Has("error") {
				t.Errorf("error callback parameters %v", u.Query())
			}
			_, err = c.HandleCallback(ctx, cb, st.Login)
			var oe *fapi.OAuthError
			if !errors.As(err, &oe) || oe.Endpoint != "authorization" || oe.Status != 0 || oe.Code != "login_required" {
				t.Fatalf("HandleCallback: %v, want the authorization error login_required", err)
			}
			// The same answer under another login's state is a validation error, not an OAuth error.
			other := st.Login
			other.State = strings.Repeat("B", 43)
			if _, err := c.HandleCallback(ctx, cb, other); !errors.Is(err, fapi.ErrState) || errors.As(err, &oe) {
				t.Errorf("error answer with another login's state: %v, want ErrState", err)
			}
		})
	}
}
