package gateway

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// cacheKey is the authorization server's index followed by SHA-256 of the
// token: the token itself is never stored, and a token cached from one
// authorization server is never found for a route that trusts another.
type cacheKey [2 + sha256.Size]byte

// scratch buffers let makeKey hash a string without allocating (a
// []byte(token) conversion would, for tokens over 32 bytes).
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func makeKey(as uint16, token string) cacheKey {
	var k cacheKey
	binary.BigEndian.PutUint16(k[:2], as)
	bp := scratch.Get().(*[]byte)
	*bp = append((*bp)[:0], token...)
	sum := sha256.Sum256(*bp)
	clear(*bp) // no token bytes left lying in the pool
	if cap(*bp) <= 8<<10 {
		scratch.Put(bp)
	}
	copy(k[2:], sum[:])
	return k
}

// entry is what the cache keeps about one token: the claims the gateway
// checks on every request and the JWT it forwards, already parsed and
// signed, so a hit needs no JSON and no signature work.
type entry struct {
	negative bool
	expires  int64  // entry dropped at this Unix nanosecond
	exp      int64  // token exp in Unix nanoseconds; 0 = none
	jwt      string // the JWT to forward: bearer without its "Bearer " prefix
	bearer   string // "Bearer " + jwt, built once, not on every request
	scopes   []string
	aud      []string
	x5t, jkt string

	key        cacheKey
	prev, next *entry // LRU list of the shard
}

// setJWT stores the JWT to forward and its Authorization value in one string.
func (e *entry) setJWT(jwt string) {
	e.bearer = "Bearer " + jwt
	e.jwt = e.bearer[len("Bearer "):]
}

const cacheShards = 32

// tokenCache is a sharded LRU with per-entry expiry. Each shard holds at
// most max/shards entries; inserting into a full shard evicts its least
// recently used entry.
type tokenCache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu   sync.Mutex
	m    map[cacheKey]*entry
	head entry // sentinel: head.next is the most recent
	max  int
}

func newTokenCache(max int) *tokenCache {
	per := max / cacheShards
	if per < 1 {
		per = 1
	}
	c := &tokenCache{}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[cacheKey]*entry)
		s.head.next, s.head.prev = &s.head, &s.head
		s.max = per
	}
	return c
}

func (c *tokenCache) shard(k cacheKey) *cacheShard {
	return &c.shards[k[2]%cacheShards] // the hash byte, not the AS index
}

// get returns a live entry or nil; an expired one is removed.
func (c *tokenCache) get(k cacheKey, now time.Time) *entry {
	s := c.shard(k)
	s.mu.Lock()
	e := s.m[k]
	if e == nil {
		s.mu.Unlock()
		return nil
	}
	if now.UnixNano() >= e.expires {
		s.remove(e)
		s.mu.Unlock()
		return nil
	}
	s.unlink(e)
	s.pushFront(e)
	s.mu.Unlock()
	return e
}

// put stores e under k, replacing any older entry: entries come only from
// a fresh introspection, whose answer is the newest word on the token. An
// inactive answer makes a negative entry, never a positive one.
func (c *tokenCache) put(k cacheKey, e *entry, now time.Time) {
	e.key = k
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.m[k]; old != nil {
		s.remove(old)
	}
	for len(s.m) >= s.max {
		s.remove(s.head.prev)
	}
	s.m[k] = e
	s.pushFront(e)
}

func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (s *cacheShard) remove(e *entry) {
	s.unlink(e)
	delete(s.m, e.key)
}

func (s *cacheShard) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *cacheShard) pushFront(e *entry) {
	e.next, e.prev = s.head.next, &s.head
	s.head.next.prev = e
	s.head.next = e
}
