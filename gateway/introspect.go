package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Introspector asks one authorization server about an access token (RFC
// 7662). Implementations return ErrUnavailable, ErrBadAnswer or
// ErrUntrustedAnswer (wrapped) on failure; any other error counts as
// ErrUnavailable. They must honour ctx's deadline.
type Introspector interface {
	Introspect(ctx context.Context, token string) (*Introspection, error)
}

// IntrospectorFunc adapts a function to Introspector.
type IntrospectorFunc func(ctx context.Context, token string) (*Introspection, error)

// Introspect calls f.
func (f IntrospectorFunc) Introspect(ctx context.Context, token string) (*Introspection, error) {
	return f(ctx, token)
}

// Introspection is an authorization server's answer about one token.
type Introspection struct {
	// Active is the answer's "active"; false means every other field is
	// ignored and the token is refused.
	Active bool
	// JWT is the signed token to forward as received (Curity's phantom
	// token, or the RFC 9701 answer). May be empty (RFC 7662 JSON).
	JWT    string
	Claims Claims
	// MaxAge from the answer's Cache-Control when HasMaxAge.
	MaxAge    time.Duration
	HasMaxAge bool
}

// Claims are the parts of the token information the gateway uses.
type Claims struct {
	Issuer   string
	Subject  string
	ClientID string
	Audience []string
	Scope    []string
	Expiry   time.Time // zero: no exp
	IssuedAt time.Time
	// CnfX5t is cnf["x5t#S256"] (RFC 8705 §3.1): base64url without padding
	// of the SHA-256 of the bound certificate's DER.
	CnfX5t string
	// CnfJkt is cnf.jkt (RFC 9449 §6.1).
	CnfJkt string
}

// introspectionError is what a failed lookup reports to the handler.
type introspectionError struct {
	err   error // ErrUnavailable / ErrBadAnswer / ErrUntrustedAnswer wrapping the cause
	retry time.Duration
}

func (e *introspectionError) Error() string { return e.err.Error() }
func (e *introspectionError) Unwrap() error { return e.err }

// lookup returns the cache entry for token at as, introspecting on a miss.
// Concurrent misses for one token share one call. The caller checks
// negative entries, exp, binding and scope.
func (g *Gateway) lookup(ctx context.Context, as *asState, token string) (*entry, error) {
	key := makeKey(as.idx, token)
	now := g.cfg.Now()
	if e := g.cache.get(key, now); e != nil {
		return e, nil
	}
	return g.miss(ctx, as, token, key, now)
}

// miss is lookup's slow path, kept apart so that the key does not escape to
// the heap on a cache hit (the closure below captures it).
func (g *Gateway) miss(ctx context.Context, as *asState, token string, key cacheKey, now time.Time) (*entry, error) {
	if wait, open := g.breaker.allow(now); open {
		return nil, &introspectionError{err: fmt.Errorf("%w: circuit open", ErrUnavailable), retry: wait}
	}
	ch := g.flight.DoChan(string(key[:]), func() (any, error) {
		return g.introspect(as, token, key)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*entry), nil
	case <-ctx.Done():
		return nil, &introspectionError{err: fmt.Errorf("%w: %w", ErrUnavailable, context.Cause(ctx))}
	}
}

// introspect makes one call, bounded by the timeout and the concurrency
// limit, updates the breaker and fills the cache.
func (g *Gateway) introspect(as *asState, token string, key cacheKey) (*entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.IntrospectionTimeout)
	defer cancel()
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &introspectionError{err: fmt.Errorf("%w: too many introspections in flight", ErrUnavailable)}
	}
	in, err := g.callIntrospector(ctx, as, token)
	<-g.sem
	now := g.cfg.Now()
	if err != nil {
		ie := classify(err)
		if errors.Is(ie.err, ErrUnavailable) {
			g.breaker.failure(now)
		} else {
			g.breaker.success()
		}
		return nil, ie
	}
	g.breaker.success()
	e, ttl, err := g.newEntry(as, in, now)
	if err != nil {
		return nil, classify(err)
	}
	if ttl > 0 {
		e.expires = now.Add(ttl).UnixNano()
		g.cache.put(key, e, now)
	}
	return e, nil
}

// callIntrospector shields the gateway from a panicking Introspector.
func (g *Gateway) callIntrospector(ctx context.Context, as *asState, token string) (in *Introspection, err error) {
	defer func() {
		if p := recover(); p != nil {
			in, err = nil, fmt.Errorf("%w: introspector panicked", ErrBadAnswer)
		}
	}()
	in, err = as.Introspector.Introspect(ctx, token)
	if err == nil && in == nil {
		err = fmt.Errorf("%w: no answer", ErrBadAnswer)
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	return in, err
}

func classify(err error) *introspectionError {
	var ie *introspectionError
	if errors.As(err, &ie) {
		return ie
	}
	switch {
	case errors.Is(err, ErrUntrustedAnswer), errors.Is(err, ErrBadAnswer), errors.Is(err, ErrUnavailable):
		return &introspectionError{err: err}
	}
	return &introspectionError{err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
}

// newEntry turns an answer into a cache entry: negative for inactive or
// expired tokens, else positive with the JWT to forward (as received or
// minted) and a TTL of min(exp − skew, max-age, MaxTTL).
func (g *Gateway) newEntry(as *asState, in *Introspection, now time.Time) (*entry, time.Duration, error) {
	c := &in.Claims
	if !in.Active || (!c.Expiry.IsZero() && !now.Before(c.Expiry)) {
		return &entry{negative: true}, g.cfg.Cache.NegativeTTL, nil
	}
	e := &entry{
		scopes: slices.Clone(c.Scope), aud: slices.Clone(c.Audience),
		x5t: c.CnfX5t, jkt: c.CnfJkt,
	}
	if !c.Expiry.IsZero() {
		e.exp = c.Expiry.UnixNano()
	}
	switch as.Forward {
	case ForwardMint:
		jwt, err := g.mint(in, now)
		if err != nil {
			return nil, 0, err
		}
		e.setJWT(jwt)
	default:
		if in.JWT == "" {
			return nil, 0, fmt.Errorf("%w: no JWT to forward (use forward mode mint)", ErrBadAnswer)
		}
		e.setJWT(in.JWT)
	}
	ttl := g.cfg.Cache.MaxTTL
	if in.HasMaxAge {
		ttl = min(ttl, in.MaxAge)
	}
	if !c.Expiry.IsZero() {
		ttl = min(ttl, c.Expiry.Sub(now)-g.cfg.Cache.Skew)
	}
	return e, ttl, nil
}

// retrySeconds rounds a wait up to whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	if d <= 0 {
		return 1
	}
	return int(math.Ceil(d.Seconds()))
}
