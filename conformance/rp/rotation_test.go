package rp

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/cillers/fapid/fapi"
)

// TestKeyRotationBetweenModules: the real suite runs a plan's modules one
// after another against one issuer and, unless the plan configuration
// carries server.jwks, makes a new signing key (new kid) for every module.
// A long-running agent must pick up the new key on every login: fapi
// refetches the JWKS for each distinct unknown kid (at most once per
// fapi.DefaultJWKSMinRefetch for any kid), not once per 5 minutes.
func TestKeyRotationBetweenModules(t *testing.T) {
	for _, name := range []string{"pkjwt+mtls/oidc/signed/plain", "pkjwt+mtls/oidc/signed/jarm"} {
		t.Run(name, func(t *testing.T) {
			f, _ := ParseVariantFilter(name)
			var v Variant
			for _, x := range MessageSigning.Variants() {
				if f.Match(x) {
					v = x
				}
			}
			e, err := newEnvironment(t.Context(), Options{}.withDefaults())
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			rn := e.srv.newRun(MessageSigning, v, Modules()[0], "openid accounts")
			logs := &reasonLog{}
			h, err := AgentTarget(t.Context(), TargetEnv{Agent: e.agentConfig(rn, slog.New(logs))})
			if err != nil {
				t.Fatal(err)
			}
			e.agents.add(rn.id, h)
			for login := 1; login <= 3; login++ {
				if login > 1 { // the next module, a moment later: a new key with a new kid
					time.Sleep(fapi.DefaultJWKSMinRefetch)
					k, err := newServerKeys(fmt.Sprintf("module-%d-key", login))
					if err != nil {
						t.Fatal(err)
					}
					rn.mu.Lock()
					rn.keys = k
					rn.mu.Unlock()
				}
				o := &observations{}
				e.drive(t.Context(), rn, o)
				if !o.loggedIn() || o.userInfo.status != http.StatusOK {
					t.Fatalf("login %d after the server's key rotated: %s", login, o.describe(logs.first()))
				}
			}
		})
	}
}
