package agent

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// discovery keeps the authorization server's metadata (and with it the
// JWKS cache, which fapi renews on every discovery) fresh: discovery is
// repeated when the metadata are older than MetadataMaxAge, and after a
// failure that suggests the server changed (an unknown signing key, an
// endpoint gone, the server unreachable), at most once per
// RediscoverInterval. A failed discovery keeps the previous metadata.
type discovery struct {
	mu      sync.Mutex // serialises discoveries
	last    time.Time  // last successful discovery
	tried   time.Time  // last attempt
	stale   atomic.Bool
	maxAge  time.Duration
	minWait time.Duration
}

// Discover fetches the authorization server's metadata now. Call it at
// start: it fails when the discovery document's issuer differs from the
// configured one by a single byte (the error names both, CASES H09), so a
// misconfigured deployment refuses to start.
func (a *Agent) Discover(ctx context.Context) error {
	d := &a.disc
	d.mu.Lock()
	defer d.mu.Unlock()
	return a.discoverLocked(ctx)
}

func (a *Agent) discoverLocked(ctx context.Context) error {
	d := &a.disc
	d.tried = a.now()
	if _, err := a.client.Discover(ctx); err != nil {
		msg := "agent: discovery failed; keeping the previous metadata"
		if d.last.IsZero() {
			msg = "agent: discovery failed"
		}
		a.log.WarnContext(ctx, msg, "issuer", a.client.Issuer(), "error", err.Error())
		return err
	}
	d.last = a.now()
	d.stale.Store(false)
	return nil
}

// freshMetadata repeats discovery when the metadata are old or were marked
// stale, and the last attempt is not too recent. Errors are logged only:
// the call that follows uses what there is and reports its own failure.
func (a *Agent) freshMetadata(ctx context.Context) {
	d := &a.disc
	now := a.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	due := d.last.IsZero() || now.Sub(d.last) >= d.maxAge || d.stale.Load()
	if !due || (!d.tried.IsZero() && now.Sub(d.tried) < d.minWait) {
		return
	}
	_ = a.discoverLocked(ctx)
}

// noteFailure marks the metadata stale after a failure that suggests the
// server changed; it reports whether it did.
func (a *Agent) noteFailure(err error) bool {
	if err == nil || !staleMetadata(err) {
		return false
	}
	a.disc.stale.Store(true)
	return true
}

// usedStates remembers the states of finished logins until their login
// cookie has expired, so that one login cookie and state can be redeemed
// only once even when a browser replays login/end (CASES H09). It is per
// process: behind several agents the authorization server's single-use
// codes are the backstop.
type usedStates struct {
	mu  sync.Mutex
	m   map[[32]byte]time.Time
	max int
}

const maxUsedStates = 100_000

// use records state as used until until; false when it already was.
func (u *usedStates) use(state string, until, now time.Time) bool {
	k := sha256.Sum256([]byte("fapid login state\x00" + state))
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = make(map[[32]byte]time.Time)
	}
	if exp, ok := u.m[k]; ok && now.Before(exp) {
		return false
	}
	if len(u.m) >= u.max {
		for key, exp := range u.m {
			if !now.Before(exp) {
				delete(u.m, key)
			}
		}
		for key := range u.m { // still full of live entries: forget arbitrary ones
			if len(u.m) < u.max*3/4 {
				break
			}
			delete(u.m, key)
		}
	}
	u.m[k] = until
	return true
}
