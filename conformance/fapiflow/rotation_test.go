package fapiflow_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cillers/fapid/conformance/interop"
	"github.com/cillers/fapid/fapi"
)

// TestRefreshReplay proves refresh-token rotation on a login of its own per variant (a replay
// ends the grant, so it cannot share TestLifecycle's): two rotations in a row (the second one
// narrowing the scope), then the first, rotated-out refresh token is refused with invalid_grant,
// and the server's replay detection has revoked the whole grant: the newest refresh token is
// refused too and introspection says its access token is inactive.
func TestRefreshReplay(t *testing.T) {
	e := need(t)
	rs := e.rsViews(t)[:1]
	for _, v := range variants {
		t.Run(v.client, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := e.agent(t, v.client)
			fl := e.login(t, c, v, e.srv.NewBrowser())
			sub := fl.tok.IDToken.Subject

			// Resources nil: Config.Resources again, so another API token.
			tok2, err := c.Refresh(ctx, fapi.RefreshRequest{RefreshToken: fl.tok.RefreshToken, Subject: sub})
			if err != nil {
				t.Fatalf("first Refresh: %v\nserver: %s", err, e.stderr.String())
			}
			checkRotated(t, c, fl.tok, tok2)
			e.checkIntrospection(t, rs, tok2.AccessToken, e.wantToken(t, v, true))

			narrow := []string{"openid", interop.APIScope}
			tok3, err := c.Refresh(ctx, fapi.RefreshRequest{RefreshToken: tok2.RefreshToken, Scopes: narrow, Subject: sub})
			if err != nil {
				t.Fatalf("second Refresh: %v\nserver: %s", err, e.stderr.String())
			}
			checkRotated(t, c, tok2, tok3)
			if got := strings.Fields(tok3.Scope); slices.Contains(got, "offline_access") || !slices.Contains(got, interop.APIScope) {
				t.Errorf("narrowed refresh: scope %q, want %v", tok3.Scope, narrow)
			}

			_, err = c.Refresh(ctx, fapi.RefreshRequest{RefreshToken: fl.tok.RefreshToken})
			wantInvalidGrant(t, "replayed refresh token", err, fl.tok.RefreshToken)
			_, err = c.Refresh(ctx, fapi.RefreshRequest{RefreshToken: tok3.RefreshToken})
			wantInvalidGrant(t, "newest refresh token after a replay", err, tok3.RefreshToken)
			e.checkInactive(t, rs, "access token after a replay", tok3.AccessToken)
		})
	}
}
