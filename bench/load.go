package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// target is one row of the table: where the load goes and how each
// request looks.
type target struct {
	name string
	desc string
	url  string
	h3   bool
	// header is sent on every request; fresh, when set, returns the header
	// of each request instead (scenario e: a new token every time).
	header   http.Header
	fresh    func() http.Header
	cert     *tls.Certificate // client certificate (scenario c)
	proxy    *child           // the proxy process under test (nil: direct)
	uncached bool             // every request carries a new token
	base     string           // the bare-proxy target with the same request over the same protocol

	rts []http.RoundTripper // per worker; kept across rounds (warm connections)
}

// clients makes (once) the round trippers of n workers: HTTP/1.1 over TLS
// with one keep-alive connection per worker, as wrk does, or one HTTP/3
// (QUIC) connection per worker.
func (t *target) clients(n int, pool *x509.CertPool) []http.RoundTripper {
	for len(t.rts) < n {
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if t.cert != nil {
			tc.Certificates = []tls.Certificate{*t.cert}
		}
		if t.h3 {
			t.rts = append(t.rts, &http3.Transport{TLSClientConfig: tc, DisableCompression: true})
			continue
		}
		tc.NextProtos = []string{"http/1.1"}
		t.rts = append(t.rts, &http.Transport{TLSClientConfig: tc, DisableCompression: true,
			MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, IdleConnTimeout: 5 * time.Minute})
	}
	return t.rts[:n]
}

func (t *target) close() {
	for _, rt := range t.rts {
		switch v := rt.(type) {
		case *http3.Transport:
			_ = v.Close()
		case *http.Transport:
			v.CloseIdleConnections()
		}
	}
	t.rts = nil
}

// loadResult is one closed-loop run against one target.
type loadResult struct {
	requests int64
	errors   int64
	firstErr string
	elapsed  time.Duration
	p50, p99 time.Duration
}

// closedLoop runs conc workers, each sending its next request as soon as
// the previous answer is read, until the duration has passed or, when
// limit > 0, limit requests have been sent. Latency is measured per
// request; every non-200 answer or transport error counts as an error.
func closedLoop(ctx context.Context, t *target, rts []http.RoundTripper, d time.Duration, limit int64) loadResult {
	var (
		wg       sync.WaitGroup
		tickets  atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		lats     = make([][]time.Duration, len(rts))
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for i, rt := range rts {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			base, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
			base.Header = t.header
			for {
				if limit > 0 {
					if tickets.Add(1) > limit {
						break
					}
				} else if !time.Now().Before(deadline) {
					break
				}
				req := base
				if t.fresh != nil {
					cp := *base
					cp.Header = t.fresh()
					req = &cp
				}
				t0 := time.Now()
				err := roundTrip(rt, req)
				lat = append(lat, time.Since(t0))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					if ctx.Err() != nil {
						break
					}
				}
			}
			lats[i] = lat
		})
	}
	wg.Wait()
	r := loadResult{elapsed: time.Since(start), errors: errs.Load()}
	if e, ok := firstErr.Load().(string); ok {
		r.firstErr = e
	}
	all := slices.Concat(lats...)
	r.requests = int64(len(all))
	slices.Sort(all)
	r.p50, r.p99 = percentile(all, 0.50), percentile(all, 0.99)
	return r
}

func roundTrip(rt http.RoundTripper, req *http.Request) error {
	res, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d (%s)", res.StatusCode, res.Header.Get("Www-Authenticate"))
	}
	return nil
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// fetch makes one request and returns the status and body (checks).
func fetch(ctx context.Context, rt http.RoundTripper, url string, h http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if h != nil {
		req.Header = h.Clone()
	}
	res, err := rt.RoundTrip(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	return res.StatusCode, b, err
}
