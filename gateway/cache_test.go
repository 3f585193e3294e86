package gateway

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCacheBoundedLRU(t *testing.T) {
	c := newTokenCache(cacheShards * 2) // two entries per shard
	now := testNow()
	keys := make([]cacheKey, 0, 1000)
	for i := range 1000 {
		k := makeKey(0, fmt.Sprintf("token-%06d-abcdefghij", i))
		keys = append(keys, k)
		c.put(k, &entry{expires: now.Add(time.Minute).UnixNano()}, now)
		c.get(keys[0], now) // keep the first one hot
	}
	if n := c.len(); n > cacheShards*2 {
		t.Fatalf("%d entries, bound %d", n, cacheShards*2)
	}
	if c.get(keys[0], now) == nil {
		t.Fatal("the most recently used entry was evicted")
	}
	// Expired entries are never returned.
	if c.get(keys[999], now.Add(time.Minute)) != nil {
		t.Fatal("expired entry returned")
	}
	// Same token, different authorization server: different keys.
	if makeKey(0, tokenA) == makeKey(1, tokenA) {
		t.Fatal("AS identity not in the key")
	}
}

// DESIGN §7: at most 1.5 KB per cached token (with a typical 900-byte JWT).
func TestCacheMemoryPerToken(t *testing.T) {
	const n = 20_000
	c := newTokenCache(n * 2)
	now := testNow()
	jwtBase := strings.Repeat("J", 900)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		tok := fmt.Sprintf("token-%08d-abcdefghij", i)
		jwt := jwtBase[:890] + fmt.Sprintf("%010d", i) // a distinct string per entry
		c.put(makeKey(0, tok), &entry{expires: now.Add(time.Minute).UnixNano(), jwt: jwt,
			scopes: []string{"read", "write"}, aud: []string{"api"}, x5t: strings.Repeat("x", 43)}, now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (after.HeapAlloc - before.HeapAlloc) / n
	t.Logf("%d bytes per cached token", per)
	if per > 1536 {
		t.Fatalf("%d bytes per cached token, budget 1536", per)
	}
	runtime.KeepAlive(c)
}
