package rp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
)

// agentHost serves every module run's client on one TLS listener, below
// /a/<run id>, so that the SPA reaches it over HTTPS as a browser would.
type agentHost struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	runs map[string]http.Handler
}

func startAgentHost(cert *tls.Certificate) (*agentHost, error) {
	h := &agentHost{runs: map[string]http.Handler{}}
	tc, err := tlsx.ServerConfig(tlsx.ServerOptions{Source: tlsx.NewHolder(cert)})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/a/{id}/", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		h.mu.Lock()
		target := h.runs[id]
		h.mu.Unlock()
		if target == nil {
			http.NotFound(w, r)
			return
		}
		http.StripPrefix("/a/"+id, target).ServeHTTP(w, r)
	})
	h.srv = &http.Server{Handler: tlsx.HSTS(mux), ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog()}
	h.url = "https://" + ln.Addr().String()
	go h.srv.Serve(tls.NewListener(ln, tc))
	return h, nil
}

func (h *agentHost) add(id string, target http.Handler) {
	h.mu.Lock()
	h.runs[id] = target
	h.mu.Unlock()
}

func (h *agentHost) remove(id string) {
	h.mu.Lock()
	delete(h.runs, id)
	h.mu.Unlock()
}

func (h *agentHost) close() { h.srv.Close() }

// runJob runs one module: a fresh test authorization server (issuer), a
// fresh client, the SPA's script, then the verdict.
func (e *environment) runJob(ctx context.Context, j job) Result {
	res := Result{Plan: j.plan, Variant: j.v, Module: j.mod.Name}
	if j.reason != "" {
		res.Status, res.Reason = Skipped, j.reason
		return res
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, e.o.ModuleTimeout)
	defer cancel()
	rn := e.srv.newRun(j.plan, j.v, j.mod, strings.Join(e.scopes(j.v), " "))
	defer e.srv.endRun(rn)
	logs := &reasonLog{}
	obs := &observations{}
	h, err := e.o.Target(ctx, TargetEnv{Agent: e.agentConfig(rn, slog.New(logs))})
	if err != nil {
		obs.startErr = err
	}
	if h != nil {
		e.agents.add(rn.id, h)
		defer e.agents.remove(rn.id)
		e.drive(ctx, rn, obs)
	}
	res.Status, res.Reason = judge(rn, obs, logs.first())
	rn.mu.Lock()
	res.Warnings = append(res.Warnings, rn.warnings...)
	rn.mu.Unlock()
	res.Duration = time.Since(start)
	return res
}

// agentConfig is the agent's configuration for one run.
func (e *environment) agentConfig(rn *run, log *slog.Logger) agent.Config {
	v, s := rn.v, e.o.Agent
	fc := fapi.Config{
		Issuer: rn.issuer, ClientID: s.ClientID, AuthMethod: fapi.AuthPrivateKeyJWT, Signer: e.signer,
		HTTPClient: e.plainHC, UseMTLSAliases: v.usesMTLS(), SenderConstraint: fapi.SenderMTLS,
		ResponseMode: fapi.ResponseModeQuery, Scopes: e.scopes(v), Resources: s.Resources, RedirectURI: s.RedirectURI,
	}
	if v.mtlsAuth() {
		fc.AuthMethod = fapi.AuthTLSClientAuth
	}
	if v.usesMTLS() {
		fc.HTTPClient = e.certHC
	}
	if s.UseMTLSAliases != nil {
		fc.UseMTLSAliases = *s.UseMTLSAliases
	}
	if v.dpop() {
		fc.SenderConstraint, fc.DPoPSigner = fapi.SenderDPoP, e.dpop
	}
	if v.jarm() {
		fc.ResponseMode = fapi.ResponseModeJWT
	}
	return agent.Config{
		FAPI: fc, CookieKeys: []seal.Key{e.cookie}, BasePath: s.BasePath, CookiePrefix: s.CookiePrefix,
		TrustedOrigins: []string{s.Origin}, Compat: s.Compat, Logger: log,
	}
}

// step is one call the SPA made to the agent.
type step struct {
	status int
	body   map[string]any
	err    error
}

func (s step) code() string {
	c, _ := s.body["code"].(string)
	return c
}

// observations are what the SPA saw.
type observations struct {
	startErr error // the client refused to start
	start    step  // POST login/start
	authURL  string
	authErr  string // the browser could not get an authorization response
	callback string
	end      step // POST login/end
	session  step // GET session
	userInfo step // GET userInfo
}

func (o *observations) loggedIn() bool {
	return o.end.status == http.StatusOK && o.end.body["isLoggedIn"] == true
}

// drive plays the SPA and its browser: login/start, the authorization
// endpoint (the test server answers at once), login/end with the page URL,
// then session and userInfo — userInfo always, whatever happened before, so
// that a client that made a session despite a fault is caught calling the
// resource.
func (e *environment) drive(ctx context.Context, rn *run, o *observations) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: e.browser, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := e.agents.url + "/a/" + rn.id + e.o.Agent.BasePath + "/"
	call := func(method, path string, body any) step {
		return spaCall(ctx, hc, method, base+path, e.o.Agent.Origin, body)
	}
	o.start = call(http.MethodPost, "login/start", map[string]any{})
	o.authURL, _ = o.start.body["authorizationRequestUrl"].(string)
	if o.start.status == http.StatusOK && o.authURL != "" {
		o.callback, o.authErr = browse(ctx, hc, o.authURL, rn.s.frontURL+"/")
	}
	if o.callback != "" {
		o.end = call(http.MethodPost, "login/end", map[string]string{"pageUrl": o.callback})
	}
	o.session = call(http.MethodGet, "session", nil)
	o.userInfo = call(http.MethodGet, "userInfo", nil)
}

// spaCall is a credentialed fetch from the SPA origin.
func spaCall(ctx context.Context, hc *http.Client, method, u, origin string, body any) step {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return step{err: err}
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Accept", "application/json")
	req.Header.Set(agent.CustomHeader, agent.CustomHeaderValue)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := hc.Do(req)
	if err != nil {
		return step{err: err}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	s := step{status: res.StatusCode}
	_ = json.Unmarshal(b, &s.body)
	return s
}

// browse follows the authorization URL as a browser would and returns the
// redirect it gets (the callback page URL). It goes only to the test
// server's front host.
func browse(ctx context.Context, hc *http.Client, authURL, front string) (callback, problem string) {
	if !strings.HasPrefix(authURL, front) {
		return "", "the authorization URL is not on the test server's authorization endpoint"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return "", err.Error()
	}
	res, err := hc.Do(req)
	if err != nil {
		return "", err.Error()
	}
	defer res.Body.Close()
	var e struct {
		Desc string `json:"error_description"`
	}
	if res.StatusCode != http.StatusFound {
		_ = json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&e)
		return "", "authorization endpoint answered " + http.StatusText(res.StatusCode) + ": " + e.Desc
	}
	loc := res.Header.Get("Location")
	if _, err := url.Parse(loc); err != nil || loc == "" {
		return "", "authorization endpoint redirected nowhere"
	}
	return loc, ""
}

// reasonLog keeps the causes the agent logs for refused requests ("reason"
// and "error" attributes); they explain a module's outcome in the table.
type reasonLog struct {
	mu      sync.Mutex
	reasons []string
}

func (h *reasonLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *reasonLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *reasonLog) WithGroup(string) slog.Handler            { return h }

func (h *reasonLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" || a.Key == "error" {
			h.mu.Lock()
			h.reasons = append(h.reasons, a.Value.String())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *reasonLog) first() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reasons) == 0 {
		return ""
	}
	return h.reasons[0]
}
