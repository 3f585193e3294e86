package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cillers/fapid/agent"
	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
	"github.com/cillers/fapid/internal/seal"
	"github.com/cillers/fapid/internal/tlsx"
)

// startAgent serves the OAuth Agent (as cmd/fapid wires it) on a loopback
// TLS listener: private_key_jwt with an ES256 key, certificate-bound tokens
// (the session certificate on every call to the authorization server),
// query response mode, PAR + JAR + PKCE, the run's cookie key.
func startAgent(ctx context.Context, cfg *childConfig) (childReady, error) {
	m := cfg.M
	pool, err := m.pool()
	if err != nil {
		return childReady{}, err
	}
	cert, err := pair(m.SessionCert, m.SessionKey)
	if err != nil {
		return childReady{}, err
	}
	hc, err := asHTTPClient(pool, cert)
	if err != nil {
		return childReady{}, err
	}
	key, err := signer(m.AgentKey)
	if err != nil {
		return childReady{}, err
	}
	js, err := jws.NewSigner(key, "bench-agent")
	if err != nil {
		return childReady{}, err
	}
	sk, err := seal.ParseKey([]byte(m.SealKey))
	if err != nil {
		return childReady{}, err
	}
	a, err := agent.New(agent.Config{
		FAPI: fapi.Config{
			Issuer: cfg.Issuer, ClientID: spaClientID, AuthMethod: fapi.AuthPrivateKeyJWT, Signer: js,
			HTTPClient: hc, SenderConstraint: fapi.SenderMTLS, ResponseMode: fapi.ResponseModeQuery,
			Scopes: []string{"openid", "read", "write", "accounts"}, RedirectURI: redirectURI,
		},
		CookieKeys:     []seal.Key{sk},
		TrustedOrigins: []string{spaOrigin},
		Logger:         infoLogger(),
	})
	if err != nil {
		return childReady{}, err
	}
	if err := a.Discover(ctx); err != nil {
		return childReady{}, err
	}
	l, err := listenTLS(ctx, m, tlsx.NoClientCert)
	if err != nil {
		return childReady{}, err
	}
	l.serve(tlsx.HSTS(a.Handler()))
	return childReady{TCP: l.addr}, nil
}

// loginDriver plays the SPA and the user against the agent: login/start,
// then (instead of a browser at the authorization endpoint) the redirect
// the stand-in would make, then login/end.
type loginDriver struct {
	base   string // https://host:port/oauth-agent
	issuer string
	hc     *http.Client
}

// login runs one login and returns the session's Cookie header value.
func (d *loginDriver) login(ctx context.Context) (string, error) {
	res, body, err := d.post(ctx, "login/start", "{}", "")
	if err != nil {
		return "", err
	}
	var start struct{ AuthorizationRequestURL string }
	if err := json.Unmarshal(body, &start); err != nil || res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench: login/start: %d %s", res.StatusCode, truncate(body))
	}
	page, err := d.authorize(start.AuthorizationRequestURL)
	if err != nil {
		return "", err
	}
	endBody, _ := json.Marshal(map[string]string{"pageUrl": page})
	res, body, err = d.post(ctx, "login/end", string(endBody), cookieHeader(res))
	if err != nil {
		return "", err
	}
	var end struct{ Handled, IsLoggedIn bool }
	if err := json.Unmarshal(body, &end); err != nil || res.StatusCode != http.StatusOK || !end.IsLoggedIn {
		return "", fmt.Errorf("bench: login/end: %d %s", res.StatusCode, truncate(body))
	}
	return cookieHeader(res), nil
}

// authorize turns the authorization URL into the page URL the SPA would
// land on: the stand-in's request_uri carries state and nonce; the code is
// the nonce (base64url), which the stand-in's token endpoint puts into the
// ID token.
func (d *loginDriver) authorize(authURL string) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	enc, ok := strings.CutPrefix(u.Query().Get("request_uri"), parPrefix)
	if !ok {
		return "", fmt.Errorf("bench: authorization URL without the stand-in's request_uri")
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", err
	}
	var ro struct{ State, Nonce, RedirectURI string }
	if err := json.Unmarshal(raw, &ro); err != nil {
		return "", err
	}
	q := url.Values{"code": {base64.RawURLEncoding.EncodeToString([]byte(ro.Nonce))}, "state": {ro.State}, "iss": {d.issuer}}
	return redirectURI + "?" + q.Encode(), nil
}

func (d *loginDriver) post(ctx context.Context, path, body, cookie string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/"+path, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Origin", spaOrigin)
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := d.hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res, b, err
}

// cookieHeader turns the answer's Set-Cookie lines into a Cookie header,
// as a browser would send them back (deletions dropped).
func cookieHeader(res *http.Response) string {
	var parts []string
	for _, c := range res.Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}

func truncate(b []byte) string {
	const n = 200
	if len(b) > n {
		b = append(bytes.Clone(b[:n]), "…"...)
	}
	return string(b)
}

// AgentResult is the agent's CPU per login.
type AgentResult struct {
	Logins   int
	Failed   int
	Elapsed  time.Duration
	AgentCPU time.Duration // agent process CPU per login
	ASCPU    time.Duration // stand-in process CPU per login (excluded from AgentCPU)
	Err      string
}

// measureLogins runs n logins, conc at a time, and divides the agent
// process's CPU (and, for reference, the stand-in's) by n.
func measureLogins(ctx context.Context, d *loginDriver, ag, back *child, n, conc int) AgentResult {
	r := AgentResult{Logins: n}
	a0, err1 := ag.cpu()
	b0, err2 := back.cpu()
	start := time.Now()
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := d.login(ctx); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	a1, err3 := ag.cpu()
	b1, err4 := back.cpu()
	r.Failed = int(failed.Load())
	if e, _ := firstErr.Load().(string); e != "" {
		r.Err = e
	}
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			r.Err = err.Error()
			return r
		}
	}
	r.AgentCPU = (a1 - a0) / time.Duration(n)
	r.ASCPU = (b1 - b0) / time.Duration(n)
	return r
}
