//go:build linux

package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser is one headless Chromium with a fresh profile.
type browser struct {
	t       *testing.T
	ctx     context.Context // the tab
	profile string          // --user-data-dir, unique to this browser
	strict  bool            // the demo CA is trusted through NSS (no ignored certificate errors)
	cap     *capture
	cancel  func()
}

// startBrowser starts Chromium with the demo CA in a private NSS database
// (toolchain.md B option 2) under a scratch HOME, so the real certificate
// checks apply. Without certutil (outside CI only) it ignores certificate
// errors instead. parent should not end with the test (use
// context.WithoutCancel): close then shuts Chromium down gracefully, so none
// of its child processes is orphaned.
func startBrowser(t *testing.T, parent context.Context, tl tools, caFile string) *browser {
	t.Helper()
	scratch := t.TempDir()
	home, profile := filepath.Join(scratch, "home"), filepath.Join(scratch, "profile")
	b := &browser{t: t, profile: profile, strict: tl.certutil != ""}
	if b.strict {
		trustCA(t, tl.certutil, home, caFile)
	} else if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(tl.chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1100),
		chromedp.Env("HOME=" + home), // Chromium reads $HOME/.pki/nssdb
	}
	if !b.strict {
		opts = append(opts, chromedp.IgnoreCertErrors)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	b.ctx = ctx
	b.cancel = func() { cancelTab(); cancelAlloc() }
	t.Cleanup(b.close)
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx (no timeout)
		t.Fatalf("start chromium: %v", err)
	}
	t.Logf("chromium started in %v (strict CA trust: %v)", time.Since(start).Round(time.Millisecond), b.strict)
	b.cap = newCapture(ctx)
	if err := b.cap.start(); err != nil {
		t.Fatalf("capture: %v", err)
	}
	return b
}

// trustCA makes home/.pki/nssdb with the CA as a trusted SSL issuer.
func trustCA(t *testing.T, certutil, home, caFile string) {
	t.Helper()
	db := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", "sql:" + db, "-N", "--empty-password"},
		{"-d", "sql:" + db, "-A", "-t", "C,,", "-n", "fapid demo CA", "-i", caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// close stops Chromium and checks that none of its processes is left.
func (b *browser) close() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	if left := waitGone("--user-data-dir="+b.profile, 10*time.Second); len(left) > 0 {
		b.t.Errorf("chromium processes left after the browser was closed:\n%s", strings.Join(left, "\n"))
	}
}

// run runs one action with a timeout.
func run[T any](b *browser, d time.Duration, a chromedp.Action[T]) (T, error) {
	ctx, cancel := waitCtx(b.ctx, d)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// do runs actions with a timeout and fails the test on error.
func (b *browser) do(what string, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := waitCtx(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.page())
	}
}

// waitJS polls a JavaScript expression until it is true. It survives
// navigations (an evaluation during one just fails and is retried).
func (b *browser) waitJS(what, expr string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := run(b, 2*time.Second, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: not true after %v (last error: %v)\n%s", what, d, err, b.page())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eval evaluates a JavaScript expression and fails the test on error.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := run(b, 5*time.Second, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\n%s", expr, err, b.page())
	}
	return v
}

// page describes the current page for failure messages.
func (b *browser) page() string {
	v, err := run(b, 2*time.Second, chromedp.Evaluate[string](
		`location.href + "\n" + (document.body ? document.body.innerText.slice(0, 1500) : "")`))
	if err != nil {
		return "(page unavailable: " + err.Error() + ")"
	}
	return "page: " + v
}

// cookies returns the browser's cookies for url.
func (b *browser) cookies(url string) []*network.Cookie {
	b.t.Helper()
	ctx, cancel := waitCtx(b.ctx, 5*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		b.t.Fatalf("Network.getCookies: %v", err)
	}
	return res.Cookies
}

// response is one HTTP response that reached the browser.
type response struct {
	url      string
	status   int64
	typ      network.ResourceType
	headers  network.Headers
	redirect bool // a redirect: its body is never given to the page
	finished bool
	body     []byte
	bodyErr  error
}

func (r *response) header(name string) string {
	for k, v := range r.headers {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

func (r *response) headerText() string {
	b, _ := json.Marshal(r.headers)
	return string(b)
}

// capture records every response of the tab through the Network domain and
// reads each body as soon as it has finished loading.
type capture struct {
	ctx    context.Context
	events chan any

	mu        sync.Mutex
	responses []*response
	byID      map[network.RequestID]*response
	overflow  bool
}

func newCapture(ctx context.Context) *capture {
	return &capture{ctx: ctx, events: make(chan any, 8192), byID: map[network.RequestID]*response{}}
}

func (c *capture) start() error {
	size := int64(64 << 20)
	_, err := chromedp.Call(c.ctx, network.Enable, network.EnableParams{
		MaxTotalBufferSize: &size, MaxResourceBufferSize: new(int64(8 << 20)), EnableDurableMessages: new(true),
	})
	if err != nil {
		return err
	}
	// The reference server's pages import web fonts; this test stays on
	// loopback.
	_, err = chromedp.Call(c.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{
		{URLPattern: "*://fonts.googleapis.com/*", Block: true}, {URLPattern: "*://fonts.gstatic.com/*", Block: true},
	}})
	if err != nil {
		return err
	}
	if err := chromedp.Listen(c.ctx, func(ev any) {
		switch ev.(type) {
		case *network.EventResponseReceived, *network.EventLoadingFinished, *network.EventRequestWillBeSent:
			select {
			case c.events <- ev:
			default:
				c.mu.Lock()
				c.overflow = true
				c.mu.Unlock()
			}
		}
	}); err != nil {
		return err
	}
	go c.loop()
	return nil
}

// loop handles the events in order: a response is recorded, its body read
// when it has finished loading.
func (c *capture) loop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case ev := <-c.events:
			c.handle(ev)
		}
	}
}

// flushMarker is sent through the queue to wait until it is drained.
type flushMarker chan struct{}

func (c *capture) handle(ev any) {
	switch e := ev.(type) {
	case flushMarker:
		close(e)
	case *network.EventRequestWillBeSent:
		if r := e.RedirectResponse; r != nil {
			c.add("", &response{url: r.URL, status: r.Status, headers: r.Headers, typ: e.Type, redirect: true, finished: true})
		}
	case *network.EventResponseReceived:
		c.add(e.RequestID, &response{url: e.Response.URL, status: e.Response.Status, headers: e.Response.Headers, typ: e.Type})
	case *network.EventLoadingFinished:
		c.mu.Lock()
		r := c.byID[e.RequestID]
		c.mu.Unlock()
		if r == nil {
			return
		}
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		res, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: e.RequestID})
		cancel()
		c.mu.Lock()
		r.finished, r.body, r.bodyErr = true, res.Body, err
		c.mu.Unlock()
	}
}

func (c *capture) add(id network.RequestID, r *response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.responses = append(c.responses, r)
	if id != "" {
		c.byID[id] = r
	}
}

// flush waits until every event queued so far has been handled.
func (c *capture) flush(t *testing.T) {
	t.Helper()
	m := make(flushMarker)
	select {
	case c.events <- m:
	case <-time.After(5 * time.Second):
		t.Fatal("capture queue is full")
	}
	select {
	case <-m:
	case <-time.After(30 * time.Second):
		t.Fatal("capture queue not drained after 30s")
	}
}

// snapshot returns the responses recorded so far.
func (c *capture) snapshot(t *testing.T) []*response {
	t.Helper()
	c.flush(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.overflow {
		t.Fatal("capture: events were dropped (queue full)")
	}
	out := make([]*response, len(c.responses))
	copy(out, c.responses)
	return out
}

func (r *response) String() string {
	u, _, _ := strings.Cut(r.url, "?") // a query may hold a JARM response or an id_token_hint
	return fmt.Sprintf("%d %s (%s)", r.status, u, r.typ)
}
