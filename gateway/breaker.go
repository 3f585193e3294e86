package gateway

import (
	"sync"
	"time"
)

// breaker is a consecutive-failure circuit breaker for introspection. After
// `threshold` unavailable answers in a row it opens for `cooldown`: new
// tokens are answered 503 at once, without calling the authorization
// server. Then one probe call is let through (half-open); its success
// closes the breaker, its failure opens it again. Cached tokens are served
// throughout.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown}
}

// allow reports whether a call may go ahead; when not, how long to wait.
func (b *breaker) allow(now time.Time) (wait time.Duration, open bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return 0, false
	}
	if now.Before(b.openUntil) {
		return b.openUntil.Sub(now), true
	}
	if b.probing {
		return time.Second, true
	}
	b.probing = true
	return 0, false
}

func (b *breaker) failure(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	b.probing = false
	if b.failures >= b.threshold {
		b.openUntil = now.Add(b.cooldown)
	}
}

func (b *breaker) success() {
	b.mu.Lock()
	b.failures, b.probing = 0, false
	b.mu.Unlock()
}
