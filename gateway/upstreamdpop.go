package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/cillers/fapid/fapi"
)

// errUpstreamProof: the gateway could not sign an upstream DPoP proof (its
// key, possibly in an HSM, failed). The answer is 503, not 502: the fault
// is the gateway's, and it is usually brief.
var errUpstreamProof = errors.New("gateway: cannot sign the upstream DPoP proof")

// maxUpstreamNonce bounds a DPoP-Nonce the upstream sends.
const maxUpstreamNonce = 512

// dpopTransport sends the upstream requests of a route. A request whose
// token is bound to the deployment key (Config.SessionDPoPSigner; the
// agent's sessions) gets a DPoP proof signed by the gateway with that key
// (RFC 9449 §4.2, §7.1): htm the method, htu the route's
// UpstreamPublicURL (or Upstream) with the forwarded path, iat now, a
// fresh jti, ath the hash of the JWT in "Authorization: DPoP <JWT>", and
// the upstream's latest nonce, if it sent one (§9). When the upstream
// answers 401 use_dpop_nonce with a new nonce, a request without a body
// is sent once more with it; a request with a body is not (it has been
// read), and the 401 goes back to the client, while the next request uses
// the new nonce. Other requests pass through untouched.
type dpopTransport struct {
	g       *Gateway
	rt      *route
	base    http.RoundTripper
	htuBase string                 // scheme://host[:port][/path] without a trailing '/'
	nonce   atomic.Pointer[string] // the upstream's latest DPoP-Nonce
}

func (g *Gateway) newDPoPTransport(rt *route, base http.RoundTripper) (*dpopTransport, error) {
	pub := rt.UpstreamPublicURL
	if pub == "" {
		pub = rt.Upstream
	}
	u, err := url.Parse(pub)
	if err != nil {
		return nil, fmt.Errorf("upstream public URL: %w", err)
	}
	return &dpopTransport{g: g, rt: rt, base: base,
		htuBase: u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/")}, nil
}

// htu is the proof's htu for a request with canonical path p: the URL the
// upstream sees, as the route's forwarding builds it.
func (t *dpopTransport) htu(p string) string { return t.htuBase + t.rt.forwardPath(p) }

func (t *dpopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f, _ := req.Context().Value(forwardKey{}).(*forward)
	if f == nil || !f.dpop {
		return t.base.RoundTrip(req)
	}
	htu := t.htu(f.path)
	var used string
	if n := t.nonce.Load(); n != nil {
		used = *n
	}
	res, err := t.send(req, req.Body, f, htu, used)
	if err != nil {
		return nil, err
	}
	fresh := t.remember(res)
	if fresh == "" || fresh == used || !askedForNonce(res) {
		return res, nil
	}
	body, ok := replayBody(req)
	if !ok {
		return res, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	res, err = t.send(req, body, f, htu, fresh)
	if err == nil {
		t.remember(res)
	}
	return res, err
}

// send signs a proof and sends a copy of req carrying it and body.
func (t *dpopTransport) send(req *http.Request, body io.ReadCloser, f *forward, htu, nonce string) (*http.Response, error) {
	proof, err := fapi.NewDPoPProof(t.g.cfg.SessionDPoPSigner, fapi.DPoPProof{
		Method: req.Method, URL: htu, AccessToken: f.jwt, Nonce: nonce, Now: t.g.cfg.Now(),
	})
	if err != nil {
		if body != nil {
			body.Close() // a RoundTripper closes the body, also on error
		}
		return nil, fmt.Errorf("%w: %w", errUpstreamProof, err)
	}
	out := req.Clone(req.Context())
	out.Body = body
	out.Header["Dpop"] = []string{proof}
	return t.base.RoundTrip(out)
}

// remember keeps the upstream's DPoP-Nonce (exactly one, RFC 9449 §8.1
// syntax) for the next proofs and returns it; "" when there is none.
func (t *dpopTransport) remember(res *http.Response) string {
	v := res.Header.Values("DPoP-Nonce")
	if len(v) != 1 || !validNonce(v[0]) {
		return ""
	}
	n := v[0]
	t.nonce.Store(&n)
	return n
}

// askedForNonce: 401 with a challenge naming use_dpop_nonce (RFC 9449 §9;
// the caller has also seen a new DPoP-Nonce). Being lenient here costs at
// most one more attempt of a request without a body.
func askedForNonce(res *http.Response) bool {
	if res.StatusCode != http.StatusUnauthorized {
		return false
	}
	for _, c := range res.Header.Values("WWW-Authenticate") {
		if strings.Contains(c, "use_dpop_nonce") {
			return true
		}
	}
	return false
}

// replayBody is a fresh body for sending req again: none, or GetBody's.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	return b, err == nil
}

// validNonce: 1*NQCHAR (RFC 9449 §8.1), bounded.
func validNonce(n string) bool {
	if n == "" || len(n) > maxUpstreamNonce {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
