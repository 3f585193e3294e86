package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cillers/fapid/internal/seal"
)

// env is one run's processes, clients and targets.
type env struct {
	o        Options
	m        *material
	pool     *x509.CertPool
	back     *child
	bare     *child
	gw       *child // scenarios a–d
	gwE      *child // scenario e, alone so that its growing cache never helps a–d
	ag       *child
	issuer   string
	upstream string
	jwt      string // a phantom token as the stand-in issues it
	cookie   string // the browser's Cookie header after a real agent login
	cookieBy string
	targets  []*target
}

// Run starts the servers, checks them, measures, and returns the report.
// Failures of single measurements are recorded in the report; an error
// means the run could not take place.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	e := &env{o: o}
	defer e.close()
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	rep := &Report{Options: o, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), CookieSource: e.cookieBy, PhantomJWTLen: len(e.jwt)}
	e.say("checks")
	rep.Checks = e.checks(ctx)
	e.say("singleflight: %d concurrent requests with one new token, %d trials", o.ConcurrentNew, o.SingleflightTrials)
	rep.Singleflight = e.singleflight(ctx)
	rows, err := e.throughput(ctx)
	if err != nil {
		return nil, err
	}
	rep.Rows = rows
	if o.ProfileDir != "" {
		rep.Profiles = e.profiles(ctx)
	}
	for _, t := range e.targets {
		t.close()
	}
	e.say("memory: %d cached tokens", o.MemTokens)
	rep.Memory = e.memory(ctx)
	e.say("agent: %d logins", o.Logins)
	rep.Agent = e.logins(ctx)
	if o.IdleRSS {
		e.say("idle RSS of fapid run")
		rep.IdleRSS = idleRSS(ctx, o)
	} else {
		rep.IdleRSS = RSSResult{Skipped: "not requested"}
	}
	rep.finish()
	return rep, nil
}

func (e *env) say(format string, args ...any) {
	fmt.Fprintf(e.o.Progress, "fapidbench: "+format+"\n", args...)
}

// start makes the key material and the child processes, logs in once
// through the agent for the browser's cookies, and builds the targets.
func (e *env) start(ctx context.Context) error {
	var err error
	if e.m, err = newMaterial(); err != nil {
		return err
	}
	if e.pool, err = e.m.pool(); err != nil {
		return err
	}
	e.say("starting servers")
	if e.back, err = startChild(ctx, childConfig{Role: roleBackends, M: e.m}); err != nil {
		return err
	}
	e.issuer, e.upstream = "https://"+e.back.ready.AS, "https://"+e.back.ready.TCP
	if e.jwt, err = e.phantomToken(ctx); err != nil {
		return err
	}
	var g errgroup.Group
	for _, s := range []struct {
		role string
		dst  **child
	}{{roleBare, &e.bare}, {roleGateway, &e.gw}, {roleGateway, &e.gwE}, {roleAgent, &e.ag}} {
		g.Go(func() error {
			c, err := startChild(ctx, childConfig{Role: s.role, M: e.m, Issuer: e.issuer, Upstream: e.upstream, StaticJWT: e.jwt})
			*s.dst = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := e.sessionCookie(ctx); err != nil {
		return err
	}
	return e.buildTargets()
}

func (e *env) close() {
	for _, t := range e.targets {
		t.close()
	}
	for _, c := range []*child{e.ag, e.gwE, e.gw, e.bare, e.back} {
		if c != nil {
			c.stop()
		}
	}
}

// client is an HTTPS client trusting the run's CA, presenting cert if set.
func (e *env) client(cert *tls.Certificate, conns int) *http.Transport {
	tc := &tls.Config{RootCAs: e.pool, NextProtos: []string{"http/1.1"}}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Transport{TLSClientConfig: tc, MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns}
}

// phantomToken asks the stand-in for one JWT, the size the bare proxy
// forwards.
func (e *env) phantomToken(ctx context.Context) (string, error) {
	cert, err := pair(e.m.SessionCert, e.m.SessionKey)
	if err != nil {
		return "", err
	}
	tr := e.client(cert, 1)
	defer tr.CloseIdleConnections()
	form := url.Values{"token": {newToken(kindCookie)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.issuer+"/introspect", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/jwt")
	res, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench: stand-in introspection: %d %v", res.StatusCode, err)
	}
	return string(b), nil
}

// sessionCookie logs in through the agent; the Cookie header it leaves is
// what a browser sends to the gateway. Should the agent fail, the cookies
// are sealed here under the contract in gateway/doc.go (and the report
// says so).
func (e *env) sessionCookie(ctx context.Context) error {
	d := e.loginDriver()
	c, err := d.login(ctx)
	if err == nil && strings.Contains(c, "__Host-fapid-at=") {
		e.cookie, e.cookieBy = c, fmt.Sprintf("agent login/start + login/end (Cookie header of %d bytes: %s)", len(c), cookieSizes(c))
		return nil
	}
	key, kerr := seal.ParseKey([]byte(e.m.SealKey))
	if kerr != nil {
		return kerr
	}
	s, kerr := seal.New([]seal.Key{key})
	if kerr != nil {
		return kerr
	}
	exp := time.Now().Add(8 * time.Hour)
	at, err1 := s.Seal("__Host-fapid-at", []byte(newToken(kindCookie)), exp)
	csrf, err2 := s.Seal("__Host-fapid-csrf", []byte(newToken("cs-")), exp)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	e.cookie = "__Host-fapid-at=" + at + "; __Host-fapid-csrf=" + csrf
	e.cookieBy = fmt.Sprintf("sealed by the harness (agent login failed: %v)", err)
	return nil
}

func (e *env) loginDriver() *loginDriver {
	tr := e.client(nil, e.o.LoginConcurrency)
	tr.ForceAttemptHTTP2 = false
	return &loginDriver{base: "https://" + e.ag.ready.TCP + "/oauth-agent", issuer: e.issuer,
		hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (e *env) logins(ctx context.Context) AgentResult {
	if e.o.Logins <= 0 {
		return AgentResult{Err: "not requested"}
	}
	return measureLogins(ctx, e.loginDriver(), e.ag, e.back, e.o.Logins, e.o.LoginConcurrency)
}

// buildTargets makes the table's rows. Direct and bare get the browser's
// request (cookies and Origin), the same bytes as scenario a.
func (e *env) buildTargets() error {
	mobile, err := pair(e.m.MobileCert, e.m.MobileKey)
	if err != nil {
		return err
	}
	browser := http.Header{"Cookie": {e.cookie}, "Origin": {spaOrigin}, "Accept": {"application/json"}}
	bearer := func(tok string) http.Header {
		return http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json"}}
	}
	https := func(addr, path string) string { return "https://" + addr + path }
	e.targets = []*target{
		{name: "direct", desc: "upstream API, no proxy", url: https(e.back.ready.TCP, "/api/x"), header: browser},
		{name: "bare", desc: "bare httputil.ReverseProxy, tuned pool, browser request", url: https(e.bare.ready.TCP, "/api/x"),
			header: browser, proxy: e.bare, base: "bare"},
		{name: "bare-bearer", desc: "bare proxy, Bearer request", url: https(e.bare.ready.TCP, "/api/x"),
			header: bearer(newToken(kindBearer)), proxy: e.bare, base: "bare-bearer"},
		{name: "bare-h3", desc: "bare proxy over HTTP/3, browser request", url: https(e.bare.ready.UDP, "/api/x"),
			header: browser, proxy: e.bare, h3: true, base: "bare-h3"},
		{name: "a cookie", desc: "gateway, agent cookie, cached token (cnf)", url: https(e.gw.ready.TCP, "/api/x"),
			header: browser, proxy: e.gw, base: "bare"},
		{name: "b bearer", desc: "gateway, Bearer, cached unbound token", url: https(e.gw.ready.TCP, "/open/x"),
			header: bearer(newToken(kindBearer)), proxy: e.gw, base: "bare-bearer"},
		{name: "c mtls", desc: "gateway, Bearer over mTLS, cnf x5t#S256", url: https(e.gw.ready.TCP, "/api/x"),
			header: bearer(newToken(kindMTLS)), proxy: e.gw, cert: mobile, base: "bare-bearer"},
		{name: "d h3", desc: "gateway over HTTP/3, agent cookie", url: https(e.gw.ready.UDP, "/api/x"),
			header: browser, proxy: e.gw, h3: true, base: "bare-h3"},
		{name: "e uncached", desc: "gateway, Bearer, a new token every request", url: https(e.gwE.ready.TCP, "/open/x"),
			proxy: e.gwE, uncached: true, base: "bare-bearer", fresh: func() http.Header { return bearer(newToken(kindBearer)) }},
	}
	if len(e.o.Only) > 0 {
		e.targets = slices.DeleteFunc(e.targets, func(t *target) bool {
			return !slices.ContainsFunc(e.o.Only, func(s string) bool { return t.name == s || strings.HasPrefix(t.name, s+" ") })
		})
		if len(e.targets) == 0 {
			return fmt.Errorf("bench: no target named %q", e.o.Only)
		}
	}
	return nil
}

// cookieSizes lists the cookies of a Cookie header with their value sizes.
func cookieSizes(h string) string {
	var out []string
	for part := range strings.SplitSeq(h, "; ") {
		name, v, _ := strings.Cut(part, "=")
		out = append(out, fmt.Sprintf("%s %d", name, len(v)))
	}
	return strings.Join(out, ", ")
}
