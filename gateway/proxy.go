package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/cillers/fapid/internal/tlsx"
)

// forward is what the handler hands to Rewrite through the context.
type forward struct {
	path     string // canonical escaped path
	jwt      string // "" for anonymous routes
	bearer   string // "Bearer " + jwt
	clientIP string
	trusted  bool   // the peer is a trusted proxy
	cors     string // origin to allow on the answer (cookie requests)
	dpop     bool   // forward "DPoP <jwt>" with a proof signed by the gateway
}

type forwardKey struct{}

// UpstreamTransport is the upstream transport of a route: FAPI TLS policy,
// upstream CA bundle, our client certificate, HTTP/2, and an idle pool
// sized for a busy gateway. The benchmark's bare-proxy baseline uses it
// too, so that both forward over the same transport.
func UpstreamTransport(rt *Route) (*http.Transport, error) {
	tc, err := tlsx.ClientConfig(tlsx.ClientOptions{
		RootCAs: rt.UpstreamCAs, Source: rt.UpstreamCertificate, ServerName: rt.UpstreamServerName,
	})
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}, nil
}

func (g *Gateway) newProxy(rt *route, tr http.RoundTripper) *httputil.ReverseProxy {
	target := rt.upstream
	return &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			f, _ := pr.In.Context().Value(forwardKey{}).(*forward)
			if f == nil { // cannot happen: serve always sets it
				f = &forward{}
			}
			g.rewrite(pr, target, rt, f)
		},
		ModifyResponse: g.modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errUpstreamProof) {
				// Signing failed (an HSM away): ours, not the upstream's.
				g.log.Error("cannot sign the upstream DPoP proof", "route", rt.Prefix, "err", err)
				writeError(w, r, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
					retry: retrySeconds(g.cfg.BreakerCooldown)}, "")
				return
			}
			if errors.Is(err, context.Canceled) {
				g.log.Debug("client went away", "route", rt.Prefix)
			} else {
				var ue *url.Error
				if errors.As(err, &ue) {
					err = ue.Err // the URL may carry the client's query: keep it out of the log
				}
				g.log.Warn("upstream error", "route", rt.Prefix, "upstream", target.Host, "err", err)
			}
			writeError(w, r, &apiError{status: http.StatusBadGateway, code: codeUpstreamError}, "")
		},
	}
}

// rewrite builds the upstream request: canonical path under the upstream
// path, query without access_token, none of the client's credentials,
// proxy headers of our own making, and the JWT.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest, target *url.URL, rt *route, f *forward) {
	out := pr.Out
	raw := strings.TrimSuffix(target.EscapedPath(), "/") + rt.forwardPath(f.path)
	out.URL.Scheme, out.URL.Host, out.URL.RawPath = target.Scheme, target.Host, raw
	out.URL.Path, _ = url.PathUnescape(raw)
	if strings.Contains(out.URL.RawQuery, "access_token") {
		q := out.URL.Query()
		q.Del("access_token")
		out.URL.RawQuery = q.Encode()
	}
	out.Host = ""

	h := out.Header
	for name := range h {
		if strings.HasPrefix(name, "X-Forwarded-") || strings.HasPrefix(name, "X-Original-") {
			delete(h, name)
		}
	}
	h.Del("Authorization")
	h.Del("Dpop")
	h.Del("Forwarded")
	h.Del("X-Real-Ip")
	h.Del("X-Client-Cert")
	h.Del(g.csrfHeader)
	h.Del(g.cfg.ForwardAuthHeader)
	g.stripOurCookies(h)

	in := pr.In.Header
	if f.clientIP != "" {
		h.Set("X-Forwarded-For", f.clientIP)
	}
	if f.trusted && len(in["X-Forwarded-Proto"]) == 1 {
		h["X-Forwarded-Proto"] = in["X-Forwarded-Proto"]
	} else if pr.In.TLS != nil {
		h.Set("X-Forwarded-Proto", "https")
	} else {
		h.Set("X-Forwarded-Proto", "http")
	}
	if f.trusted && len(in["X-Forwarded-Host"]) == 1 {
		h["X-Forwarded-Host"] = in["X-Forwarded-Host"]
	} else if g.publicHost != "" {
		h.Set("X-Forwarded-Host", g.publicHost) // the Host header is the client's say-so
	} else {
		h.Set("X-Forwarded-Host", pr.In.Host)
	}
	switch {
	case f.jwt == "":
	case f.dpop:
		h.Set("Authorization", "DPoP "+f.jwt) // the DPoP header is added by dpopTransport
	default:
		h.Set("Authorization", f.bearer)
	}
}

// forwardPath is the canonical path p as appended to the upstream URL's
// path: without the route's prefix when StripPrefix is set.
func (rt *route) forwardPath(p string) string {
	if !rt.StripPrefix {
		return p
	}
	p = strings.TrimPrefix(p, strings.TrimSuffix(rt.Prefix, "/"))
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// stripOurCookies removes __Host-<prefix>-* cookies, keeping the others,
// with one allocation at most.
func (g *Gateway) stripOurCookies(h http.Header) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	var b strings.Builder
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if part == "" || strings.HasPrefix(part, g.cookiePrefix) {
				continue
			}
			if b.Len() == 0 {
				b.Grow(len(lines[0]))
			} else {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
	}
	if b.Len() == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{b.String()}
}

// modifyResponse keeps upstreams from setting our cookies, echoes
// x-fapi-interaction-id (FAPI 2.0 conformance) and sets CORS for cookie
// requests.
func (g *Gateway) modifyResponse(res *http.Response) error {
	if res.Request != nil {
		f, _ := res.Request.Context().Value(forwardKey{}).(*forward)
		if f != nil && f.cors != "" {
			res.Header.Del("Access-Control-Allow-Origin")
			res.Header.Del("Access-Control-Allow-Credentials")
			setCORS(res.Header, f.cors)
		}
		if f != nil && f.dpop {
			delete(res.Header, "Dpop-Nonce") // the upstream's nonce is for the gateway's proofs
		}
		if id := res.Request.Header["X-Fapi-Interaction-Id"]; len(id) == 1 && len(res.Header["X-Fapi-Interaction-Id"]) == 0 {
			res.Header["X-Fapi-Interaction-Id"] = id
		}
	}
	sc := res.Header["Set-Cookie"]
	if len(sc) == 0 {
		return nil
	}
	kept := sc[:0:0]
	for _, c := range sc {
		if !strings.HasPrefix(strings.TrimSpace(c), g.cookiePrefix) {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		delete(res.Header, "Set-Cookie")
	} else {
		res.Header["Set-Cookie"] = kept
	}
	return nil
}

// peer is the direct peer's address and whether it is a trusted proxy.
func (g *Gateway) peer(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a := ap.Addr().Unmap()
	return a, g.isTrusted(a)
}

func (g *Gateway) isTrusted(a netip.Addr) bool {
	for _, p := range g.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the direct peer, or, when the peer is a trusted proxy, the
// first address from the right of X-Forwarded-For that is not a trusted
// proxy (CASES H02). A malformed entry stops the walk at the last trusted
// hop.
func (g *Gateway) clientIP(r *http.Request) (string, bool) {
	addr, trusted := g.peer(r)
	if !addr.IsValid() {
		return "", false
	}
	if !trusted {
		return addr.String(), false
	}
	client := addr
	xff := r.Header["X-Forwarded-For"]
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var hop string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return client.String(), true
			}
			client = a.Unmap()
			if !g.isTrusted(client) {
				return client.String(), true
			}
		}
	}
	return client.String(), true
}
