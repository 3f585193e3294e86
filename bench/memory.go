package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cillers/fapid/gateway"
)

// MemoryResult is the heap the gateway keeps per cached token.
type MemoryResult struct {
	Tokens     int
	HeapBefore uint64
	HeapAfter  uint64
	PerToken   float64     // bytes
	JWTLen     int         // characters of each cached JWT (part of PerToken)
	Calls      int64       // introspections during the fill (must equal Tokens)
	Recalls    int64       // introspections when 1,000 of them are asked again (must be 0)
	Retried    map[int]int // statuses of refusals on the first attempt (retried once)
	Err        string
}

// memoryAuthPath is the forward-auth path of the in-process gateway.
const memoryAuthPath = "/_fapid/auth"

// memory fills a gateway built in this process (the same configuration as
// the gateway process, introspecting against the same stand-in over TLS)
// with MemTokens distinct certificate-bound tokens through its
// forward-auth pipeline, and divides the live-heap growth by their number.
// The tokens are made before the first heap reading, so only what the
// gateway keeps is counted.
func (e *env) memory(ctx context.Context) MemoryResult {
	n := e.o.MemTokens
	res := MemoryResult{Tokens: n, JWTLen: len(e.jwt)}
	if n <= 0 {
		res.Err = "not requested"
		return res
	}
	gc, err := gatewayConfig(e.m, e.issuer, e.upstream)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	// Room for every token: the default 100,000 is split over 32 shards,
	// and a shard that fills up evicts before the others are full.
	gc.Cache.MaxEntries = max(2*n, gateway.DefaultCacheEntries)
	gc.ForwardAuthPath = memoryAuthPath
	gc.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")} // httptest's RemoteAddr
	g, err := gateway.New(gc)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	leaf, err := parseCert(e.m.SessionCert)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	h := g.ForwardAuthHandler()
	ask := func(tok string) int {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.test"+memoryAuthPath, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("X-Original-Method", "GET")
		r.Header.Set("X-Original-Uri", "/api/x")
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = newToken(kindMemory)
	}
	if code := ask(newToken(kindMemory)); code != http.StatusOK { // discovery, JWKS, connections
		res.Err = fmt.Sprintf("first token: status %d", code)
		return res
	}
	st0, _ := e.back.stats()
	res.HeapBefore = heapAfterGC()
	bad, codes := fill(tokens, ask)
	if bad > 0 {
		res.Err = fmt.Sprintf("%d of %d tokens were not accepted (statuses %v)", bad, n, codes)
	}
	res.Retried = codes
	res.HeapAfter = heapAfterGC()
	st1, _ := e.back.stats()
	for _, tok := range tokens[:min(1000, n)] {
		ask(tok)
	}
	st2, _ := e.back.stats()
	runtime.KeepAlive(g)
	runtime.KeepAlive(tokens)
	res.Calls = st1["introspections"] - st0["introspections"]
	res.Recalls = st2["introspections"] - st1["introspections"]
	res.PerToken = (float64(res.HeapAfter) - float64(res.HeapBefore)) / float64(n)
	return res
}

// fill asks for every token, 8 at a time, then once more, one at a time,
// for any the gateway refused (a 503 when the loaded machine made an
// introspection miss its deadline); it returns how many stayed refused and
// the statuses of the refusals.
func fill(tokens []string, ask func(string) int) (int, map[int]int) {
	var (
		next   atomic.Int64
		mu     sync.Mutex
		failed []string
		codes  = map[int]int{}
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(tokens)) {
					return
				}
				if code := ask(tokens[i]); code != http.StatusOK {
					mu.Lock()
					failed = append(failed, tokens[i])
					codes[code]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	bad := 0
	for _, tok := range failed {
		time.Sleep(10 * time.Millisecond)
		if ask(tok) != http.StatusOK {
			bad++
		}
	}
	return bad, codes
}

// heapAfterGC is the live heap after two full collections (the second one
// frees what finalizers and sync.Pool victims kept through the first).
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
