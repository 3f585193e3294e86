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

func TestJWKSRefetchOncePerWindow(t *testing.T) {
	as := newFakeAS(t)
	k := keys(t)
	clk := newClock()
	cache := NewJWKSCache(as.issuer+"/jwks", as.srv.Client(), JWKSOptions{Now: clk.now})
	ctx := context.Background()
	if _, _, err := cache.Verify(ctx, as.sign(map[string]any{"a": 1}, "")); err != nil {
		t.Fatal(err)
	}
	// The AS rotates in a new key.
	rot := mustSigner(t, k.other, "rotated")
	doc, _ := jws.PublicJWKS(
		jws.PublicKey{Key: &k.asEC.PublicKey, KeyID: "as-es", Alg: jws.ES256},
		jws.PublicKey{Key: &k.other.PublicKey, KeyID: "rotated", Alg: jws.ES256},
	)
	as.mu.Lock()
	as.jwks = doc
	as.mu.Unlock()
	tok := signWith(t, rot, map[string]any{"a": 2}, "")
	clk.advance(time.Minute)
	_, _, err := cache.Verify(ctx, tok)
	wantErr(t, err, jws.ErrNoKey)
	if as.hits() != 1 {
		t.Fatalf("refetched within the window: %d fetches", as.hits())
	}
	clk.advance(DefaultJWKSRefetch)
	if _, _, err := cache.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if as.hits() != 2 {
		t.Fatalf("%d fetches, want 2", as.hits())
	}
	// Another unknown kid right after: no fetch.
	_, _, err = cache.Verify(ctx, signWith(t, mustSigner(t, k.dpop, "x"), map[string]any{}, ""))
	wantErr(t, err, jws.ErrNoKey)
	if as.hits() != 2 {
		t.Fatalf("%d fetches, want 2", as.hits())
	}
	// Bad signatures never cause a fetch.
	clk.advance(DefaultJWKSRefetch)
	_, _, err = cache.Verify(ctx, corrupt(tok))
	wantErr(t, err, jws.ErrSignature)
	if as.hits() != 2 {
		t.Fatalf("%d fetches after a bad signature", as.hits())
	}
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
	clk.advance(DefaultJWKSRefetch)
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
