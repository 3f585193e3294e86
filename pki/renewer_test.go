package pki

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cillers/fapid/internal/tlsx"
)

// fakeClock fires After channels only when advanced. Every After call is
// reported on calls, so a test knows when the renewer is waiting and for how
// long.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	calls   chan time.Duration
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, calls: make(chan time.Duration, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	c.mu.Unlock()
	c.calls <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// nextWait returns the duration of the renewer's next After call.
func (c *fakeClock) nextWait(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.calls:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the renewer did not wait")
		return 0
	}
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
		var zero T
		return zero
	}
}

func heldLeaf(t *testing.T, h *tlsx.Holder) *x509.Certificate {
	t.Helper()
	c, err := h.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

// flaky fails the next `fails` issuances.
type flaky struct {
	Issuer
	fails atomic.Int32
}

func (f *flaky) Issue(ctx context.Context, r IssueRequest) (*Issued, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, errors.New("CA unavailable")
	}
	return f.Issuer.Issue(ctx, r)
}

func TestRenewerRenewsAndRetries(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	fc := newFakeClock(time.Now().Truncate(time.Second)) // X.509 times have whole seconds
	ca.now = fc.Now                                      // certificates follow the fake time
	iss := &flaky{Issuer: ca}
	h := tlsx.NewHolder(nil)
	renewed := make(chan *x509.Certificate, 4)
	type failure struct {
		err error
		d   time.Duration
	}
	failed := make(chan failure, 4)
	r := NewRenewer(iss, IssueRequest{CommonName: "svc", SANs: []string{"svc.test"}, Server: true, Lifetime: time.Hour}, h,
		WithClock(fc),
		WithOnRenew(func(l *x509.Certificate) { renewed <- l }),
		WithOnError(func(err error, d time.Duration) { failed <- failure{err, d} }))
	r.jitter = func() float64 { return 0 }
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); recv(t, r.Done()) }()

	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first := heldLeaf(t, h)
	if err := r.Start(ctx); err == nil {
		t.Fatal("second Start accepted")
	}

	// Renewal at two thirds of one hour.
	if d := fc.nextWait(t); d != 40*time.Minute {
		t.Fatalf("first wait %v, want 40m", d)
	}
	fc.Advance(40 * time.Minute)
	second := recv(t, renewed)
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || !heldLeaf(t, h).Equal(second) {
		t.Fatal("the holder does not hold the renewed certificate")
	}
	if publicKeysEqual(second.PublicKey, first.PublicKey) {
		t.Error("the renewal reused the key")
	}

	// Failures: the old certificate stays, retries back off 1s, 2s.
	if d := fc.nextWait(t); d != 40*time.Minute {
		t.Fatalf("second wait %v, want 40m", d)
	}
	iss.fails.Store(2)
	fc.Advance(40 * time.Minute)
	for _, want := range []time.Duration{time.Second, 2 * time.Second} {
		f := recv(t, failed)
		if f.d != want || f.err == nil {
			t.Fatalf("failure %v retry in %v, want %v", f.err, f.d, want)
		}
		if d := fc.nextWait(t); d != want {
			t.Fatalf("retry wait %v, want %v", d, want)
		}
		if !heldLeaf(t, h).Equal(second) {
			t.Fatal("the holder changed after a failure")
		}
		fc.Advance(want)
	}
	third := recv(t, renewed)
	if !heldLeaf(t, h).Equal(third) || third.Equal(second) {
		t.Fatal("no renewal after the retries")
	}
}

func TestRenewerStartFails(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	iss := &flaky{Issuer: ca}
	iss.fails.Store(1)
	h := tlsx.NewHolder(nil)
	r := NewRenewer(iss, IssueRequest{CommonName: "svc", SANs: []string{"svc.test"}, Server: true}, h)
	if err := r.Start(t.Context()); err == nil {
		t.Fatal("Start succeeded without a certificate")
	}
	recv(t, r.Done())
	if _, err := h.Certificate(); err == nil {
		t.Fatal("the holder got a certificate")
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempt   int
		remaining time.Duration
		want      time.Duration
	}{
		{0, time.Hour, time.Second},
		{3, time.Hour, 8 * time.Second},
		{20, time.Hour, maxBackoff},
		{100, time.Hour, maxBackoff},
		{10, 2 * time.Minute, 30 * time.Second},
		{10, time.Second, time.Second},
		{10, -time.Hour, maxBackoff},
	} {
		if got := backoff(tc.attempt, tc.remaining); got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.attempt, tc.remaining, got, tc.want)
		}
	}
}

func TestRenewerJitterBounds(t *testing.T) {
	now := time.Now()
	leaf := &x509.Certificate{NotBefore: now.Add(-time.Minute), NotAfter: now.Add(30 * time.Hour)}
	for _, j := range []float64{-1, 0, 0.999} {
		r := &Renewer{clock: newFakeClock(now), jitter: func() float64 { return j }}
		d := r.renewIn(leaf, now)
		if d < 19*time.Hour || d > 21*time.Hour {
			t.Errorf("jitter %v: renew in %v, want 19h..21h", j, d)
		}
	}
}

// A renewed certificate is served on the next handshake while a connection
// opened before keeps working.
func TestRenewerAsTLSServerSource(t *testing.T) {
	ca := newTestCA(t, InitOptions{})
	fc := newFakeClock(time.Now()) // the CA keeps real time: clients verify with it
	h := tlsx.NewHolder(nil)
	renewed := make(chan *x509.Certificate, 1)
	r := NewRenewer(ca, IssueRequest{CommonName: "localhost", SANs: []string{"localhost", "127.0.0.1"}, Server: true, Lifetime: time.Hour},
		h, WithClock(fc), WithOnRenew(func(l *x509.Certificate) { renewed <- l }))
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); recv(t, r.Done()) }()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first := heldLeaf(t, h)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return h.Certificate() },
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); _, _ = io.Copy(c, c) })
		}
	})
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.RootPool(), ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	echo := func(c *tls.Conn, msg string) {
		t.Helper()
		if _, err := io.WriteString(c, msg+"\n"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != msg+"\n" {
			t.Fatalf("echo %q: %q, %v", msg, got, err)
		}
	}
	peer := func(c *tls.Conn) *x509.Certificate { return c.ConnectionState().PeerCertificates[0] }

	old := dial()
	defer old.Close()
	echo(old, "before")
	if !peer(old).Equal(first) {
		t.Fatal("first connection did not get the first certificate")
	}

	fc.Advance(fc.nextWait(t))
	second := recv(t, renewed)

	fresh := dial()
	defer fresh.Close()
	echo(fresh, "new")
	if !peer(fresh).Equal(second) || second.Equal(first) {
		t.Fatal("a new handshake did not get the renewed certificate")
	}
	echo(old, "after")
	if !peer(old).Equal(first) {
		t.Fatal("the old connection's certificate changed")
	}
}
