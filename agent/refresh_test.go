package agent

import (
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"
)

// refreshAll sends n concurrent refreshes with copies of b's cookies, once
// the authorization server has received the first grant opens its gate.
func refreshAll(t *testing.T, ta *testAgent, b *browser, n int) []*httptest.ResponseRecorder {
	t.Helper()
	gate := make(chan struct{})
	ta.as.set(func(as *fakeAS) { as.gate = gate })
	out := make([]*httptest.ResponseRecorder, n)
	browsers := make([]*browser, n)
	var wg sync.WaitGroup
	for i := range n {
		browsers[i] = ta.browser(t)
		browsers[i].cookies = maps(b.cookies)
		browsers[i].csrf = b.csrf
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = browsers[i].do("POST", "refresh", "", browsers[i].csrfHeader()...)
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for ta.as.refreshes.Load() == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	ta.as.set(func(as *fakeAS) { as.gate = nil })
	return out
}

// CASES H06 — 10 concurrent refreshes of one session: the server sees one
// refresh grant and all 10 get the new cookies.
func TestH06RefreshRace(t *testing.T) {
	ta := newTestAgent(t, nil)
	b := ta.browser(t)
	b.login(false)
	oldAT := string(b.open("at"))
	res := refreshAll(t, ta, b, 10)
	var ats []string
	for i, w := range res {
		if w.Code != 204 {
			t.Fatalf("refresh %d: %d %s", i, w.Code, w.Body)
		}
		bb := ta.browser(t)
		bb.store(w)
		ats = append(ats, string(bb.open("at")))
	}
	if got := ta.as.refreshes.Load(); got != 1 {
		t.Fatalf("the server saw %d refresh grants, want 1", got)
	}
	for _, at := range ats {
		if at != ats[0] || at == oldAT {
			t.Fatal("the 10 answers do not all carry the one new access token")
		}
	}
	// A straggler with the old cookies, within the grace period, gets the
	// same new tokens without another grant.
	late := ta.browser(t)
	late.cookies, late.csrf = maps(b.cookies), b.csrf
	if w := late.do("POST", "refresh", "", late.csrfHeader()...); w.Code != 204 || ta.as.refreshes.Load() != 1 {
		t.Fatalf("late refresh: %d, grants %d", w.Code, ta.as.refreshes.Load())
	}
	// The rotated session refreshes again with one more grant.
	b.store(res[0])
	if w := b.do("POST", "refresh", "", b.csrfHeader()...); w.Code != 204 || ta.as.refreshes.Load() != 2 {
		t.Fatalf("second refresh: %d %s, grants %d", w.Code, w.Body, ta.as.refreshes.Load())
	}
}

// CASES H06 variant — the server answers invalid_grant: all 10 get 401
// session_expired with every cookie cleared, after one grant.
func TestH06RefreshInvalidGrant(t *testing.T) {
	ta := newTestAgent(t, nil)
	b := ta.browser(t)
	b.login(false)
	ta.as.set(func(as *fakeAS) { as.refErr = &asAnswer{400, `{"error":"invalid_grant"}`} })
	for _, w := range refreshAll(t, ta, b, 10) {
		expectError(t, w, 401, "session_expired")
		clearedAll(t, w)
	}
	if got := ta.as.refreshes.Load(); got != 1 {
		t.Fatalf("the server saw %d refresh grants, want 1", got)
	}
}

// Curity's refresh cases: no cookies, bad CSRF, invalid_client, a server
// error (not kept: the next call tries again), no refresh token.
func TestRefreshErrors(t *testing.T) {
	ta := newTestAgent(t, nil)
	b := ta.browser(t)
	expectError(t, b.do("POST", "refresh", ""), 401, "unauthorized_request")
	b.login(false)
	expectError(t, b.do("POST", "refresh", "", "x-fapid-csrf", "nope"), 401, "unauthorized_request")
	ta.as.set(func(as *fakeAS) { as.refErr = &asAnswer{400, `{"error":"invalid_client"}`} })
	w := b.do("POST", "refresh", "", b.csrfHeader()...)
	expectError(t, w, 400, "authorization_error")
	noSetCookie(t, w)
	ta.as.set(func(as *fakeAS) { as.refErr = &asAnswer{503, `{"error":"temporarily_unavailable"}`} })
	expectError(t, b.do("POST", "refresh", "", b.csrfHeader()...), 502, "authorization_server_error")
	ta.as.set(func(as *fakeAS) { as.refErr = nil })
	if w := b.do("POST", "refresh", "", b.csrfHeader()...); w.Code != 204 {
		t.Fatalf("refresh after the server recovered: %d %s", w.Code, w.Body)
	}
	// No refresh token issued: refresh ends the session.
	ta2 := newTestAgent(t, nil)
	ta2.as.set(func(as *fakeAS) { as.noRT = true })
	b2 := ta2.browser(t)
	b2.login(false)
	w = b2.do("POST", "refresh", "", b2.csrfHeader()...)
	expectError(t, w, 401, "session_expired")
	clearedAll(t, w)
	if ta2.as.refreshes.Load() != 0 {
		t.Fatal("refresh without a refresh token called the server")
	}
}
