package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// replayCache remembers (jkt, jti) of accepted DPoP proofs until they fall
// out of the iat window (RFC 9449 §11.1). It is bounded: when a shard is
// full of live entries, new proofs are refused rather than accepted
// unchecked.
type replayCache struct {
	shards [16]replayShard
}

type replayShard struct {
	mu  sync.Mutex
	m   map[[32]byte]int64 // key → keep until (Unix ns)
	max int
}

type replayResult int

const (
	replayFresh replayResult = iota
	replaySeen
	replayFull
)

func newReplayCache(max int) *replayCache {
	c := &replayCache{}
	per := max / len(c.shards)
	if per < 1 {
		per = 1
	}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]int64)
		c.shards[i].max = per
	}
	return c
}

func (c *replayCache) add(jkt, jti string, until, now time.Time) replayResult {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var k [32]byte
	h.Sum(k[:0])
	s := &c.shards[k[0]%byte(len(c.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	n := now.UnixNano()
	if exp, ok := s.m[k]; ok && exp > n {
		return replaySeen
	}
	if len(s.m) >= s.max {
		for key, exp := range s.m {
			if exp <= n {
				delete(s.m, key)
			}
		}
		if len(s.m) >= s.max {
			return replayFull
		}
	}
	s.m[k] = until.UnixNano()
	return replayFresh
}

// nonceSource makes stateless DPoP nonces (RFC 9449 §8): the number of the
// current time window and an HMAC of it under a key made at start. A nonce
// is valid in its window and the next, so it lives between one and two
// half-lifetimes. Restarting the gateway invalidates nonces; clients then
// get use_dpop_nonce once and retry.
type nonceSource struct {
	key    [32]byte
	window time.Duration
	now    func() time.Time
	cur    atomic.Pointer[nonceValue]
}

type nonceValue struct {
	w     int64
	nonce string
}

func newNonceSource(lifetime time.Duration, now func() time.Time) (*nonceSource, error) {
	n := &nonceSource{window: max(lifetime/2, time.Second), now: now}
	if _, err := rand.Read(n.key[:]); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *nonceSource) windowAt(t time.Time) int64 { return t.UnixNano() / int64(n.window) }

func (n *nonceSource) make(w int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(w))
	m := hmac.New(sha256.New, n.key[:])
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// current returns the nonce of the current window ("" on a nil source).
func (n *nonceSource) current() string {
	if n == nil {
		return ""
	}
	w := n.windowAt(n.now())
	if v := n.cur.Load(); v != nil && v.w == w {
		return v.nonce
	}
	v := &nonceValue{w: w, nonce: n.make(w)}
	n.cur.Store(v)
	return v.nonce
}

func (n *nonceSource) valid(nonce string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false
	}
	w := int64(binary.BigEndian.Uint64(b[:8]))
	cur := n.windowAt(n.now())
	if w != cur && w != cur-1 {
		return false
	}
	return hmac.Equal([]byte(n.make(w)), []byte(nonce))
}
