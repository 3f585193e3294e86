package api

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/cillers/fapid/fapi"
)

// defaultReplayEntries bounds the DPoP jti replay cache.
const defaultReplayEntries = 10_000

// checkDPoP verifies the DPoP proof of a request carrying a cnf.jkt-bound
// token (RFC 9449 §4.3, §7.1): exactly one DPoP header; htm the method;
// htu PublicURL + the request path; ath the hash of the token; the proof
// key's thumbprint equal to jkt; a jti not seen before within the proof's
// lifetime.
func (a *API) checkDPoP(r *http.Request, token, jkt string) error {
	if a.cfg.PublicURL == "" {
		return ErrNoPublicURL
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return fmt.Errorf("%w: %d DPoP headers", ErrDPoP, len(proofs))
	}
	now := a.cfg.Now()
	p, err := fapi.VerifyDPoPProof(proofs[0], fapi.DPoPCheck{
		Method: r.Method, URL: a.cfg.PublicURL + r.URL.EscapedPath(),
		AccessToken: token, JKT: jkt, Now: now,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDPoP, err)
	}
	if !a.replay.add(p.JKT+" "+p.JTI, p.ReplayUntil, now) {
		return fmt.Errorf("%w: jti replayed", ErrDPoP)
	}
	return nil
}

// replayCache remembers accepted proofs until they leave the iat window.
// When full of live entries it refuses new proofs (fails closed).
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]time.Time)}
}

// add records key until until; false when it is already there (a replay)
// or the cache is full.
func (c *replayCache) add(key string, until, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.seen[key]; ok && now.Before(exp) {
		return false
	}
	if len(c.seen) >= c.max {
		for k, exp := range c.seen {
			if !now.Before(exp) {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= c.max {
			return false
		}
	}
	c.seen[key] = until
	return true
}
