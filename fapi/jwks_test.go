package fapi

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/jws"
)

type clock struct{ ns atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.ns.Store(t0.UnixNano()); return c }
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// setJWKS makes the fake AS publish keys from now on.
func setJWKS(t *testing.T, as *fakeAS, keys ...jws.PublicKey) {
	t.Helper()
	doc, err := jws.PublicJWKS(keys...)
	if err != nil {
		t.Fatal(err)
	}
	as.mu.Lock()
	as.jwks = doc
	as.mu.Unlock()
}

func wantHits(t *testing.T, as *fakeAS, want int, what string) {
	t.Helper()
	if got := as.hits(); got != want {
		t.Fatalf("%s: %d JWKS fetches, want %d", what, got, want)
	}
}

// The first unknown kid after a fetch refetches; a second unknown kid inside
// the window does not; after the window one does again. The first fetch does
// not use up the window (a key rotated in right after it is picked up).
func TestJWKSRefetchOncePerWindow(t *testing.T) {
	as := newFakeAS(t)
	k := keys(t)
	clk := newClock()
	cache := NewJWKSCache(as.issuer+"/jwks", as.srv.Client(), JWKSOptions{Now: clk.now})
	ctx := context.Background()
	if _, _, err := cache.Verify(ctx, as.sign(map[string]any{"a": 1}, "")); err != nil {
		t.Fatal(err)
	}
	wantHits(t, as, 1, "first fetch")
	// The AS rotates in a new key a minute after the first fetch.
	setJWKS(t, as,
		jws.PublicKey{Key: &k.asEC.PublicKey, KeyID: "as-es", Alg: jws.ES256},
		jws.PublicKey{Key: &k.other.PublicKey, KeyID: "rotated", Alg: jws.ES256},
	)
	tok := signWith(t, mustSigner(t, k.other, "rotated"), map[string]any{"a": 2}, "")
	clk.advance(time.Minute)
	if _, _, err := cache.Verify(ctx, tok); err != nil {
		t.Fatalf("new-key token right after the first fetch: %v", err)
	}
	wantHits(t, as, 2, "first unknown kid")
	// Another unknown kid within MinRefetchInterval of that fetch: no fetch.
	unknown := signWith(t, mustSigner(t, k.dpop, "x"), map[string]any{}, "")
	_, _, err := cache.Verify(ctx, unknown)
	wantErr(t, err, jws.ErrNoKey)
	wantHits(t, as, 2, "second unknown kid within the minimum interval")
	// A distinct unknown kid after the minimum interval refetches (a server
	// may rotate often: the conformance suite uses a new kid per module).
	clk.advance(DefaultJWKSMinRefetch)
	_, _, err = cache.Verify(ctx, unknown)
	wantErr(t, err, jws.ErrNoKey)
	wantHits(t, as, 3, "distinct unknown kid after the minimum interval")
	// The same unknown kid again: not before RefetchInterval.
	clk.advance(DefaultJWKSRefetch - 2*time.Second)
	_, _, err = cache.Verify(ctx, unknown)
	wantErr(t, err, jws.ErrNoKey)
	wantHits(t, as, 3, "same unknown kid inside the window")
	clk.advance(2 * time.Second)
	_, _, err = cache.Verify(ctx, unknown)
	wantErr(t, err, jws.ErrNoKey)
	wantHits(t, as, 4, "same unknown kid after the window")
	_, _, err = cache.Verify(ctx, unknown)
	wantErr(t, err, jws.ErrNoKey)
	wantHits(t, as, 4, "unknown kid right after a refetch")
	// Bad signatures never cause a fetch.
	clk.advance(DefaultJWKSRefetch)
	_, _, err = cache.Verify(ctx, corrupt(tok))
	wantErr(t, err, jws.ErrSignature)
	wantHits(t, as, 4, "bad signature")
}

// The MaxAge refresh does not use up the unknown-kid window either, but a
// failed one is not retried inside the window.
func TestJWKSMaxAgeRefreshKeepsKidWindow(t *testing.T) {
	as := newFakeAS(t)
	k := keys(t)
	clk := newClock()
	cache := NewJWKSCache(as.issuer+"/jwks", as.srv.Client(), JWKSOptions{Now: clk.now, MaxAge: 10 * time.Minute})
	ctx := context.Background()
	old := as.sign(map[string]any{"a": 1}, "")
	if _, _, err := cache.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	// An unknown kid at 6 min opens the unknown-kid window...
	unknown := signWith(t, mustSigner(t, k.dpop, "x"), map[string]any{}, "")
	clk.advance(6 * time.Minute)
	_, _, err := cache.Verify(ctx, unknown)
	wantErr(t, err, jws.ErrNoKey)
	wantHits(t, as, 2, "first unknown kid")
	// ...10 min after that fetch the set is refreshed for its age, and the
	// server rotates right after: the refresh must not hold back the
	// refetch for the new kid (the window of the 6 min one has passed).
	clk.advance(10 * time.Minute)
	if _, _, err := cache.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	wantHits(t, as, 3, "MaxAge refresh")
	setJWKS(t, as, jws.PublicKey{Key: &k.other.PublicKey, KeyID: "rotated", Alg: jws.ES256})
	clk.advance(time.Second)
	tok := signWith(t, mustSigner(t, k.other, "rotated"), map[string]any{"a": 2}, "")
	if _, _, err := cache.Verify(ctx, tok); err != nil {
		t.Fatalf("new-key token right after a MaxAge refresh: %v", err)
	}
	wantHits(t, as, 4, "unknown kid after a MaxAge refresh")
	// A failing MaxAge refresh keeps the old set and waits a window before
	// the next attempt.
	as.handle("/jwks", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	clk.advance(10 * time.Minute)
	for range 2 {
		if _, _, err := cache.Verify(ctx, tok); err != nil {
			t.Fatalf("old set not kept after a failed refresh: %v", err)
		}
	}
	wantHits(t, as, 5, "failed MaxAge refresh, then inside the window")
	clk.advance(DefaultJWKSRefetch)
	if _, _, err := cache.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	wantHits(t, as, 6, "MaxAge refresh after the window")
}

func TestJWKSConcurrentRefetchCollapsed(t *testing.T) {
	as := newFakeAS(t)
	k := keys(t)
	clk := newClock()
	cache := NewJWKSCache(as.issuer+"/jwks", as.srv.Client(), JWKSOptions{Now: clk.now})
	ctx := context.Background()
	if _, err := cache.KeySet(ctx); err != nil {
		t.Fatal(err)
	}
	doc, _ := jws.PublicJWKS(jws.PublicKey{Key: &k.other.PublicKey, KeyID: "rotated", Alg: jws.ES256})
	gate := make(chan struct{})
	as.handle("/jwks", func(w http.ResponseWriter, r *http.Request) {
		<-gate
		_, _ = w.Write(doc)
	})
	// No clock advance: the first fetch does not hold back the refetch.
	tok := signWith(t, mustSigner(t, k.other, "rotated"), map[string]any{"a": 1}, "")
	const n = 20
	var started, done sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			_, _, err := cache.Verify(ctx, tok)
			errs <- err
		}()
	}
	started.Wait()
	close(gate)
	done.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(as.requests("/jwks")); got != 2 {
		t.Fatalf("%d JWKS fetches, want 2 (first + one collapsed refetch)", got)
	}
}

func TestJWKSFetchErrors(t *testing.T) {
	as := newFakeAS(t)
	as.handle("/jwks", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	cache := NewJWKSCache(as.issuer+"/jwks", as.srv.Client(), JWKSOptions{Now: fixedNow})
	_, _, err := cache.Verify(context.Background(), as.sign(map[string]any{}, ""))
	wantErr(t, err, ErrUnavailable)
	as.handle("/jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("[]")) })
	_, err = cache.KeySet(context.Background())
	wantErr(t, err, ErrUnexpectedResponse)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) }) // runs before the server closes
	as.handle("/jwks", func(w http.ResponseWriter, r *http.Request) { <-hold })
	_, err = cache.KeySet(ctx)
	wantErr(t, err, context.Canceled)
}
