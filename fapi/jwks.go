package fapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

// JWKSOptions tune a JWKSCache.
type JWKSOptions struct {
	// RefetchInterval: on a token whose kid is unknown the set is fetched
	// again, at most once per interval for the same kid. Only these
	// unknown-kid refetches count: the first fetch and the MaxAge refresh do
	// not use up the window, so a key the server rotates in right after
	// either is still fetched on its first token. Zero means
	// DefaultJWKSRefetch.
	RefetchInterval time.Duration
	// MinRefetchInterval bounds unknown-kid refetches of any kid: a server
	// may rotate keys often (the OpenID conformance suite uses a new kid per
	// test module), while tokens with made-up kids (a JARM response comes
	// through the browser) cause at most one fetch per interval. Zero means
	// DefaultJWKSMinRefetch.
	MinRefetchInterval time.Duration
	// MaxAge: a set older than this is fetched again before use (removed
	// keys stop verifying); on failure the old set is kept. Zero means 1 h.
	MaxAge time.Duration
	// FetchTimeout bounds one fetch, which runs detached from the callers'
	// contexts so that one cancelled caller does not fail the others.
	// Zero means 10 s.
	FetchTimeout time.Duration
	// Now: nil means time.Now.
	Now func() time.Time
}

// JWKSCache holds an authorization server's public keys (jwks_uri) and
// verifies JWS with them through internal/jws. Concurrent fetches collapse
// into one request. It is safe for concurrent use.
type JWKSCache struct {
	url  string
	hc   *http.Client
	opts JWKSOptions

	mu       sync.Mutex
	set      *jws.KeySet
	fetched  time.Time            // time of the last successful fetch
	tried    time.Time            // time of the last fetch attempt of any kind (gates MaxAge refreshes)
	kidTried time.Time            // time of the last fetch started for an unknown kid (gates those)
	kids     map[string]time.Time // unknown kids already fetched for, and when
	inflight *jwksFetch
}

// gate says which window, if any, limits the fetch refresh may start.
type gate int

const (
	gateNone gate = iota // no set yet: always fetch
	gateAge              // MaxAge refresh: not within RefetchInterval of the last attempt
	gateKid              // unknown kid: not within RefetchInterval of the last unknown-kid fetch
)

type jwksFetch struct {
	done chan struct{}
	err  error
}

// NewJWKSCache returns a cache for the JWKS at url. Nothing is fetched until
// first use.
func NewJWKSCache(url string, hc *http.Client, opts JWKSOptions) *JWKSCache {
	if opts.RefetchInterval <= 0 {
		opts.RefetchInterval = DefaultJWKSRefetch
	}
	if opts.MinRefetchInterval <= 0 {
		opts.MinRefetchInterval = min(DefaultJWKSMinRefetch, opts.RefetchInterval)
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = time.Hour
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if hc == nil {
		hc = &http.Client{Timeout: opts.FetchTimeout}
	}
	return &JWKSCache{url: url, hc: hc, opts: opts}
}

// URL returns the JWKS location.
func (k *JWKSCache) URL() string { return k.url }

// Verify verifies a compact JWS against the cached keys. When no key fits
// the token (jws.ErrNoKey: typically an unknown kid after a key rotation),
// the set is fetched again — at most once per RefetchInterval, shared with
// concurrent callers — and the token tried once more. The first fetch and
// the MaxAge refresh do not count against that window.
func (k *JWKSCache) Verify(ctx context.Context, compact string) ([]byte, jws.Header, error) {
	set, err := k.KeySet(ctx)
	if err != nil {
		return nil, jws.Header{}, err
	}
	payload, h, err := jws.Verify(compact, set)
	if err == nil || !errors.Is(err, jws.ErrNoKey) {
		return payload, h, err
	}
	fresh, ferr := k.refresh(ctx, set, gateKid, h.Kid)
	switch {
	case errors.Is(ferr, errTooSoon):
		return nil, h, err
	case ferr != nil:
		return nil, h, fmt.Errorf("%w (refetch failed: %w)", err, ferr)
	case fresh == set:
		return nil, h, err
	}
	return jws.Verify(compact, fresh)
}

// KeySet returns the current set, fetching it when there is none or when it
// is older than MaxAge (keeping the old one if that fetch fails or happened
// too recently).
func (k *JWKSCache) KeySet(ctx context.Context) (*jws.KeySet, error) {
	k.mu.Lock()
	set, fetched := k.set, k.fetched
	k.mu.Unlock()
	if set != nil && k.opts.Now().Sub(fetched) < k.opts.MaxAge {
		return set, nil
	}
	g := gateNone
	if set != nil {
		g = gateAge
	}
	fresh, err := k.refresh(ctx, set, g, "")
	if err != nil {
		if set != nil {
			return set, nil
		}
		return nil, err
	}
	return fresh, nil
}

var errTooSoon = errors.New("fapi: jwks fetched recently")

// refresh returns a set newer than seen: the one another caller already
// stored, the outcome of a fetch in flight, or of a new fetch. A new fetch
// starts only when the window g names is not open (else errTooSoon):
// gateAge looks at the last attempt of any kind, gateKid only at the last
// fetch started for an unknown kid, so that the first fetch and the MaxAge
// refresh never delay picking up a rotated key. Joining a fetch in flight
// uses up no window.
func (k *JWKSCache) refresh(ctx context.Context, seen *jws.KeySet, g gate, kid string) (*jws.KeySet, error) {
	k.mu.Lock()
	if k.set != nil && k.set != seen {
		set := k.set
		k.mu.Unlock()
		return set, nil
	}
	f := k.inflight
	if f == nil {
		now := k.opts.Now()
		if k.tooSoon(g, kid, now) {
			k.mu.Unlock()
			return nil, errTooSoon
		}
		f = &jwksFetch{done: make(chan struct{})}
		k.inflight = f
		k.tried = now
		if g == gateKid {
			k.kidTried = now
			k.rememberKid(kid, now)
		}
		go k.fetch(context.WithoutCancel(ctx), f)
	}
	k.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("fapi: jwks: %w: %w", ErrUnavailable, ctx.Err())
	}
	if f.err != nil {
		return nil, f.err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.set, nil
}

// tooSoon reports whether the window g names is still open at now; k.mu
// must be held. An unknown kid waits RefetchInterval after a fetch made for
// the same kid, and MinRefetchInterval after one made for any kid.
func (k *JWKSCache) tooSoon(g gate, kid string, now time.Time) bool {
	within := func(last time.Time, d time.Duration) bool { return !last.IsZero() && now.Sub(last) < d }
	switch g {
	case gateAge:
		return within(k.tried, k.opts.RefetchInterval)
	case gateKid:
		return within(k.kidTried, k.opts.MinRefetchInterval) || within(k.kids[kid], k.opts.RefetchInterval)
	}
	return false
}

// maxRememberedKids bounds the unknown kids remembered; past it, entries
// older than RefetchInterval are dropped, and if none is, all of them (the
// MinRefetchInterval gate still bounds the fetch rate).
const maxRememberedKids = 64

// rememberKid notes a fetch made for kid; k.mu must be held.
func (k *JWKSCache) rememberKid(kid string, now time.Time) {
	if k.kids == nil {
		k.kids = make(map[string]time.Time)
	}
	if len(k.kids) >= maxRememberedKids {
		for id, t := range k.kids {
			if now.Sub(t) >= k.opts.RefetchInterval {
				delete(k.kids, id)
			}
		}
		if len(k.kids) >= maxRememberedKids {
			clear(k.kids)
		}
	}
	k.kids[kid] = now
}

func (k *JWKSCache) fetch(ctx context.Context, f *jwksFetch) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.FetchTimeout)
	defer cancel()
	set, err := k.download(ctx)
	k.mu.Lock()
	if err == nil {
		k.set = set
		k.fetched = k.opts.Now()
	}
	f.err = err
	k.inflight = nil
	k.mu.Unlock()
	close(f.done)
}

func (k *JWKSCache) download(ctx context.Context) (*jws.KeySet, error) {
	res, err := get(ctx, k.hc, "jwks", k.url, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, &HTTPError{Endpoint: "jwks", Status: res.status}
	}
	set, err := jws.ParseKeySet(res.body)
	if err != nil {
		return nil, fmt.Errorf("fapi: jwks: %w: %w", ErrUnexpectedResponse, err)
	}
	return set, nil
}
