package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/cillers/fapid/fapi"
)

// refreshTimeout bounds one refresh-token grant. The grant runs detached
// from the callers' contexts so that one cancelled tab does not fail the
// others waiting on it.
const refreshTimeout = 20 * time.Second

// refresher collapses concurrent refreshes of one session (one refresh
// token) into one token-endpoint call, and keeps the outcome for a short
// grace period so that a call arriving just after, still carrying the old
// refresh token, gets the same answer instead of replaying a rotated-out
// token (which makes a FAPI server revoke the whole grant; CASES H06).
type refresher struct {
	mu    sync.Mutex
	m     map[[32]byte]*flight
	grace time.Duration
	now   func() time.Time
}

type flight struct {
	done     chan struct{}
	tok      *fapi.TokenResponse
	err      error
	finished time.Time
}

// maxFlights bounds the outcomes kept for the grace period.
const maxFlights = 10_000

// do returns the outcome of fn for the refresh token rt: the one in flight,
// a recent one, or a new call. AS calls made: one per token per grace period.
func (f *refresher) do(ctx context.Context, rt string, fn func(context.Context) (*fapi.TokenResponse, error)) (*fapi.TokenResponse, error) {
	key := sha256.Sum256([]byte("fapid refresh\x00" + rt))
	now := f.now()
	f.mu.Lock()
	if f.m == nil {
		f.m = make(map[[32]byte]*flight)
	}
	for k, fl := range f.m {
		if !fl.finished.IsZero() && now.Sub(fl.finished) > f.grace {
			delete(f.m, k)
		}
	}
	fl, ok := f.m[key]
	if !ok {
		fl = &flight{done: make(chan struct{})}
		f.m[key] = fl
		go f.run(context.WithoutCancel(ctx), key, fl, fn)
	}
	f.mu.Unlock()
	select {
	case <-fl.done:
		return fl.tok, fl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *refresher) run(ctx context.Context, key [32]byte, fl *flight, fn func(context.Context) (*fapi.TokenResponse, error)) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	tok, err := fn(ctx)
	f.mu.Lock()
	fl.tok, fl.err, fl.finished = tok, err, f.now()
	// Keep successes and definitive refusals for the grace period; forget
	// failures worth retrying (the server was down).
	if (err != nil && !invalidGrant(err)) || len(f.m) > maxFlights || f.grace <= 0 {
		delete(f.m, key)
	}
	f.mu.Unlock()
	close(fl.done)
}

// invalidGrant: the refresh token is no longer usable (RFC 6749 §5.2).
func invalidGrant(err error) bool {
	var oe *fapi.OAuthError
	return errors.As(err, &oe) && oe.Code == "invalid_grant"
}

// refresh handles POST refresh: 204 with rotated cookies, 401
// session_expired (every cookie cleared) when the grant is gone.
func (a *Agent) refresh(w http.ResponseWriter, r *http.Request) {
	s, ae := a.requireSession(r, true)
	if ae != nil {
		a.writeError(w, r, ae)
		return
	}
	if s.rt == "" {
		a.writeError(w, r, &apiError{status: http.StatusUnauthorized, code: codeSession, clear: true,
			err: errors.New("no refresh token in the session")})
		return
	}
	tok, err := a.refresher.do(r.Context(), s.rt, func(ctx context.Context) (*fapi.TokenResponse, error) {
		a.freshMetadata(ctx)
		tok, err := a.client.Refresh(ctx, fapi.RefreshRequest{RefreshToken: s.rt, Subject: s.sub})
		a.noteFailure(err)
		if err == nil {
			a.log.InfoContext(ctx, "agent: tokens refreshed", "rotated", tok.Rotated)
		}
		return tok, err
	})
	if err != nil {
		if invalidGrant(err) {
			a.writeError(w, r, &apiError{status: http.StatusUnauthorized, code: codeSession, clear: true, err: err})
			return
		}
		if r.Context().Err() != nil {
			return // the caller went away
		}
		a.writeError(w, r, fromFAPI(err))
		return
	}
	next := *s
	next.at, next.rt, next.atExp = tok.AccessToken, tok.RefreshToken, a.atExpiry(tok, s.expires)
	if tok.IDToken != nil {
		next.idToken = tok.IDToken.Raw
	}
	if err := a.writeSession(w, r, &next); err != nil {
		a.writeError(w, r, newError(http.StatusInternalServerError, codeServer, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// atExpiry is when the access token expires, never after the session end;
// zero when the server did not say.
func (a *Agent) atExpiry(tok *fapi.TokenResponse, sessionEnd time.Time) time.Time {
	exp := tok.ExpiresAt
	if !exp.IsZero() && !sessionEnd.IsZero() && exp.After(sessionEnd) {
		exp = sessionEnd
	}
	return exp
}
