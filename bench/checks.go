package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Check is one correctness check made before measuring: a benchmark of a
// gateway that lets everything through, or forwards the wrong thing, would
// be worthless.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

func (e *env) checks(ctx context.Context) []Check {
	var out []Check
	add := func(name string, ok bool, detail string) { out = append(out, Check{name, ok, detail}) }
	for _, t := range e.targets {
		status, body, err := fetch(ctx, t.clients(1, e.pool)[0], t.url, t.requestHeader())
		add(t.name+": 200 with the upstream's body", err == nil && status == 200 && bytes.Equal(body, upstreamBody),
			fmt.Sprintf("status %d err %v", status, err))
	}
	gw := "https://" + e.gw.ready.TCP
	plain := e.client(nil, 1)
	defer plain.CloseIdleConnections()
	deny := []struct {
		name, path string
		h          http.Header
	}{
		{"cookie without Origin → 401", "/api/x", http.Header{"Cookie": {e.cookie}}},
		{"cookie from an untrusted Origin → 401", "/api/x", http.Header{"Cookie": {e.cookie}, "Origin": {"https://evil.example"}}},
		{"unbound token on the FAPI route → 401", "/api/x", http.Header{"Authorization": {"Bearer " + newToken(kindBearer)}}},
		{"certificate-bound token without the certificate → 401", "/api/x", http.Header{"Authorization": {"Bearer " + newToken(kindMTLS)}}},
		{"unknown token → 401", "/open/x", http.Header{"Authorization": {"Bearer " + newToken("zz-")}}},
	}
	for _, d := range deny {
		status, _, err := fetch(ctx, plain, gw+d.path, d.h)
		add("gateway: "+d.name, err == nil && status == http.StatusUnauthorized, fmt.Sprintf("status %d err %v", status, err))
	}
	status, body, err := fetch(ctx, plain, gw+"/api/echo", http.Header{"Cookie": {e.cookie + "; theme=dark"}, "Origin": {spaOrigin}})
	var seen echo
	_ = json.Unmarshal(body, &seen)
	add("gateway: upstream gets the JWT, the client certificate and no session cookie",
		err == nil && status == 200 && strings.HasPrefix(seen.Authorization, "Bearer eyJ") && seen.ClientCert &&
			seen.Cookie == "theme=dark", fmt.Sprintf("status %d err %v cookie %q", status, err, seen.Cookie))
	return out
}

// requestHeader is the header of one request to t.
func (t *target) requestHeader() http.Header {
	if t.fresh != nil {
		return t.fresh()
	}
	return t.header
}

// SingleflightTrial is one burst of concurrent requests with one new token.
type SingleflightTrial struct {
	Requests int   // sent at once
	OK       int   // answered 200
	Calls    int64 // introspections they caused (must be 1)
}

// singleflight sends ConcurrentNew requests with one new token at once, on
// connections opened beforehand, to a token whose introspection takes
// slowDelay, so all of them are waiting together: the gateway must ask
// the authorization server once.
func (e *env) singleflight(ctx context.Context) []SingleflightTrial {
	n := e.o.ConcurrentNew
	tr := e.client(nil, n)
	defer tr.CloseIdleConnections()
	url := "https://" + e.gw.ready.TCP + "/open/x"
	warm := http.Header{"Authorization": {"Bearer " + newToken(kindBearer)}}
	_, _, _ = fetch(ctx, tr, url, warm)
	burst := func(h http.Header) int {
		var ok atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				if status, _, err := fetch(ctx, tr, url, h); err == nil && status == http.StatusOK {
					ok.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		return int(ok.Load())
	}
	burst(warm) // opens n connections (a cached token)
	var out []SingleflightTrial
	for range e.o.SingleflightTrials {
		st0, err0 := e.back.stats()
		okN := burst(http.Header{"Authorization": {"Bearer " + newToken(kindSlow)}})
		st1, err1 := e.back.stats()
		calls := st1["introspections"] - st0["introspections"]
		if err0 != nil || err1 != nil {
			calls = -1
		}
		out = append(out, SingleflightTrial{Requests: n, OK: okN, Calls: calls})
	}
	return out
}
