package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/cillers/fapid/internal/tlsx"
)

// Renewal timing.
const (
	// renewFraction: renew at about two thirds of a certificate's life.
	renewFraction = 2.0 / 3.0
	// renewJitter spreads the renewal point by ± this fraction of the life,
	// so that many certificates issued together do not renew together.
	renewJitter = 1.0 / 30.0
	// Retry backoff after a failed renewal: doubles from minBackoff up to
	// maxBackoff, and while the current certificate is valid never more than
	// a quarter of its remaining life.
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
)

// Clock is the Renewer's source of time; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After is time.After: it delivers once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RenewerOption configures a Renewer.
type RenewerOption func(*Renewer)

// WithClock replaces the wall clock (for tests).
func WithClock(c Clock) RenewerOption { return func(r *Renewer) { r.clock = c } }

// WithOnRenew registers f, called (from the renewer's goroutine) with each
// new leaf after it has been stored in the Holder. Use it to log.
func WithOnRenew(f func(leaf *x509.Certificate)) RenewerOption {
	return func(r *Renewer) { r.onRenew = f }
}

// WithOnError registers f, called (from the renewer's goroutine) when a
// renewal fails, with the delay before the next attempt. The Holder keeps
// the previous certificate meanwhile. Use it to log and alert.
func WithOnError(f func(err error, retryIn time.Duration)) RenewerOption {
	return func(r *Renewer) { r.onError = f }
}

// Renewer keeps a certificate from an [Issuer] fresh in a tlsx.Holder.
type Renewer struct {
	iss     Issuer
	req     IssueRequest
	holder  *tlsx.Holder
	clock   Clock
	onRenew func(*x509.Certificate)
	onError func(error, time.Duration)
	jitter  func() float64 // uniform in [-1, 1)
	started atomic.Bool
	done    chan struct{}
}

// NewRenewer returns a Renewer that will issue r from iss into h. Nothing
// happens until [Renewer.Start]. With r.Key nil every renewal gets a new key;
// with a key set (an HSM key) the key is kept.
func NewRenewer(iss Issuer, r IssueRequest, h *tlsx.Holder, opts ...RenewerOption) *Renewer {
	rn := &Renewer{
		iss: iss, req: r, holder: h, clock: realClock{},
		jitter: func() float64 { return 2*rand.Float64() - 1 },
		done:   make(chan struct{}),
	}
	for _, o := range opts {
		o(rn)
	}
	return rn
}

// Start obtains the first certificate synchronously and stores it in the
// Holder; on error nothing runs and the error is returned. Then a goroutine
// renews the certificate until ctx is done. Start may be called once.
func (r *Renewer) Start(ctx context.Context) error {
	if r.iss == nil || r.holder == nil {
		return errors.New("pki: renewer: nil issuer or holder")
	}
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("pki: renewer: already started")
	}
	obtained := r.clock.Now()
	leaf, err := r.obtain(ctx)
	if err != nil {
		close(r.done)
		return fmt.Errorf("pki: renewer: first certificate for %q: %w", r.req.CommonName, err)
	}
	go r.loop(ctx, leaf, obtained)
	return nil
}

// Done is closed when the renewer has stopped (ctx done, or Start failed).
func (r *Renewer) Done() <-chan struct{} { return r.done }

// obtain issues a certificate and stores it in the Holder.
func (r *Renewer) obtain(ctx context.Context) (*x509.Certificate, error) {
	iss, err := r.iss.Issue(ctx, r.req)
	if err != nil {
		return nil, err
	}
	tc, err := iss.TLSCertificate()
	if err != nil {
		return nil, err
	}
	r.holder.Set(tc)
	return tc.Leaf, nil
}

func (r *Renewer) loop(ctx context.Context, leaf *x509.Certificate, obtained time.Time) {
	defer close(r.done)
	for {
		if !r.sleep(ctx, r.renewIn(leaf, obtained)) {
			return
		}
		for attempt := 0; ; attempt++ {
			now := r.clock.Now()
			next, err := r.obtain(ctx)
			if err == nil {
				leaf, obtained = next, now
				if r.onRenew != nil {
					r.onRenew(leaf)
				}
				break
			}
			if ctx.Err() != nil {
				return
			}
			d := backoff(attempt, leaf.NotAfter.Sub(now))
			if r.onError != nil {
				r.onError(fmt.Errorf("pki: renewer: %q: %w", r.req.CommonName, err), d)
			}
			if !r.sleep(ctx, d) {
				return
			}
		}
	}
}

// renewIn returns the delay until the renewal point of leaf: two thirds of
// its life, counted from when it was obtained (or its NotBefore if later,
// since NotBefore is usually backdated), give or take the jitter.
func (r *Renewer) renewIn(leaf *x509.Certificate, obtained time.Time) time.Duration {
	start := obtained
	if leaf.NotBefore.After(start) {
		start = leaf.NotBefore
	}
	life := leaf.NotAfter.Sub(start)
	if life <= 0 {
		return 0
	}
	frac := renewFraction + renewJitter*r.jitter()
	at := start.Add(time.Duration(float64(life) * frac))
	return max(at.Sub(r.clock.Now()), 0)
}

// backoff returns the delay after the attempt-th consecutive failure.
func backoff(attempt int, remaining time.Duration) time.Duration {
	d := maxBackoff
	if attempt < 20 {
		d = min(minBackoff<<attempt, maxBackoff)
	}
	if remaining > 0 {
		d = min(d, remaining/4)
	}
	return max(d, minBackoff)
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func (r *Renewer) sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-r.clock.After(d):
		return true
	}
}
