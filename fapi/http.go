package fapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/cillers/fapid/internal/jws"
)

// maxBody caps every response body read from a server.
const maxBody = 1 << 20

// response is a fully read HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) mediaType() string {
	mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// roundTrip sends req with c's HTTP client and reads the whole (capped) body.
func (c *Client) roundTrip(endpoint string, req *http.Request) (*response, error) {
	return roundTrip(c.hc, endpoint, req)
}

func roundTrip(hc *http.Client, endpoint string, req *http.Request) (*response, error) {
	res, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fapi: %s endpoint: %w: %w", endpoint, ErrUnavailable, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("fapi: %s endpoint: reading body: %w: %w", endpoint, ErrUnavailable, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("fapi: %s endpoint: %w: %w: body over %d bytes", endpoint, ErrUnexpectedResponse, ErrTooLarge, maxBody)
	}
	return &response{status: res.StatusCode, header: res.Header, body: body}, nil
}

// get fetches a URL (discovery, JWKS).
func get(ctx context.Context, hc *http.Client, endpoint, target, accept string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s URL: %v", ErrConfig, endpoint, err)
	}
	req.Header.Set("Accept", accept)
	return roundTrip(hc, endpoint, req)
}

// formCall describes one back-channel POST to the authorization server.
type formCall struct {
	endpoint string // name for errors
	url      string
	accept   string
	// form returns the body; it is called again for the DPoP nonce retry so
	// that client assertions get a fresh jti.
	form func() (url.Values, error)
	dpop *jws.Signer // non-nil: send a DPoP proof (no ath)
}

// postForm authenticates nothing by itself: fc.form adds client
// authentication. With a DPoP key it sends a proof and retries exactly once
// on a use_dpop_nonce answer carrying a DPoP-Nonce header (RFC 9449 §8).
func (c *Client) postForm(ctx context.Context, fc formCall) (*response, error) {
	build := func() (*http.Request, error) {
		form, err := fc.form()
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, fc.url, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, fmt.Errorf("%w: %s URL: %v", ErrConfig, fc.endpoint, err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", fc.accept)
		return req, nil
	}
	return c.sendWithDPoP(fc.endpoint, build, fc.dpop, "")
}

// sendWithDPoP sends the request made by build, adding a DPoP proof when key
// is non-nil (with ath when accessToken is non-empty), and retries once with
// the server's nonce when asked to.
func (c *Client) sendWithDPoP(endpoint string, build func() (*http.Request, error), key *jws.Signer, accessToken string) (*response, error) {
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return nil, err
		}
		if key != nil {
			proof, err := c.proofFor(key, req, accessToken)
			if err != nil {
				return nil, err
			}
			req.Header.Set("DPoP", proof)
		}
		res, err := c.roundTrip(endpoint, req)
		if err != nil {
			return nil, err
		}
		if key == nil {
			return res, nil
		}
		n := res.header.Get("DPoP-Nonce")
		if validNonce(n) {
			c.nonce.set(originOf(req.URL), n)
		} else {
			n = ""
		}
		if !needsNonce(res) {
			return res, nil
		}
		if attempt == 1 || n == "" {
			return nil, c.errorFrom(endpoint, res)
		}
	}
}

// needsNonce reports a use_dpop_nonce answer: 400 with a JSON error (AS,
// RFC 9449 §8) or 401 with WWW-Authenticate: DPoP error="use_dpop_nonce"
// (resource server, §9); the scheme is matched case-insensitively.
func needsNonce(res *response) bool {
	switch res.status {
	case http.StatusBadRequest:
		var e struct {
			Error string `json:"error"`
		}
		return json.Unmarshal(res.body, &e) == nil && e.Error == "use_dpop_nonce"
	case http.StatusUnauthorized:
		return dpopNonceChallenge(res.header)
	}
	return false
}

// errorFrom turns a non-success answer into *OAuthError (JSON error body or
// WWW-Authenticate error) or *HTTPError.
func (c *Client) errorFrom(endpoint string, res *response) error {
	var e struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorURI         string `json:"error_uri"`
	}
	if json.Unmarshal(res.body, &e) == nil && e.Error != "" {
		return &OAuthError{Endpoint: endpoint, Status: res.status, Code: e.Error,
			Description: e.ErrorDescription, URI: e.ErrorURI}
	}
	for _, h := range res.header.Values("WWW-Authenticate") {
		for _, ch := range parseChallenges(h) {
			if code := ch.params["error"]; code != "" {
				return &OAuthError{Endpoint: endpoint, Status: res.status, Code: code,
					Description: ch.params["error_description"], URI: ch.params["error_uri"]}
			}
		}
	}
	return &HTTPError{Endpoint: endpoint, Status: res.status}
}

// expectJSON checks a 200-style answer and decodes its JSON object.
func (c *Client) expectJSON(endpoint string, res *response, want int, v any) (map[string]json.RawMessage, error) {
	if res.status != want {
		return nil, c.errorFrom(endpoint, res)
	}
	raw, err := decodeObject(res.body, v)
	if err != nil {
		return nil, fmt.Errorf("fapi: %s endpoint: %w: %w", endpoint, ErrUnexpectedResponse, err)
	}
	return raw, nil
}

// challenge is one RFC 9110 §11.6.1 challenge.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges parses a WWW-Authenticate header value leniently: auth
// params with token or quoted-string values; token68 values are skipped.
func parseChallenges(h string) []challenge {
	var out []challenge
	s := h
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out
		}
		scheme, rest := cutToken(s)
		if scheme == "" {
			return out
		}
		ch := challenge{scheme: scheme, params: map[string]string{}}
		s = rest
		for {
			t := strings.TrimLeft(s, " \t,")
			name, after := cutToken(t)
			after = strings.TrimLeft(after, " \t")
			if name == "" || !strings.HasPrefix(after, "=") {
				s = t // the next challenge, or garbage that ends parsing
				break
			}
			after = strings.TrimLeft(after[1:], " \t")
			var val string
			if strings.HasPrefix(after, `"`) {
				val, after = cutQuoted(after)
			} else {
				val, after = cutToken(after)
			}
			ch.params[strings.ToLower(name)] = val
			s = after
		}
		out = append(out, ch)
		if len(out) > 16 {
			return out
		}
	}
}

func isTokenChar(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func cutToken(s string) (tok, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func cutQuoted(s string) (val, rest string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}

// originOf is the key for the DPoP nonce store: scheme://host.
func originOf(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

// nonceStore remembers the latest DPoP-Nonce per server origin.
type nonceStore struct {
	mu sync.Mutex
	m  map[string]string
}

const maxNonceOrigins = 64

func (s *nonceStore) get(origin string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[origin]
}

func (s *nonceStore) set(origin, nonce string) {
	if !validNonce(nonce) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxNonceOrigins {
		if _, ok := s.m[origin]; !ok {
			s.m = make(map[string]string)
		}
	}
	s.m[origin] = nonce
}
