package fapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cillers/fapid/internal/jws"
)

var errNoReplay = errors.New("fapi: request body cannot be replayed for the DPoP nonce retry (set GetBody)")

// DoResource sends req to a resource server with the access token in the
// Authorization header only (FAPI 2.0 SP 5.3.3.1-3): "Bearer <token>", or
// with SenderDPoP "DPoP <token>" plus a proof carrying ath. A 401 whose
// WWW-Authenticate is DPoP error="use_dpop_nonce" (scheme matched
// case-insensitively) with a DPoP-Nonce header is retried once with the
// nonce; a request with a body needs GetBody for that (http.NewRequest sets
// it for in-memory bodies). The caller closes the response body. dpop nil
// means Config.DPoPSigner.
func (c *Client) DoResource(ctx context.Context, req *http.Request, accessToken string, dpop *jws.Signer) (*http.Response, error) {
	if !isB64Token(accessToken) {
		return nil, fmt.Errorf("%w: access token is empty or not a b64token", ErrConfig)
	}
	key, err := c.dpopKey(dpop)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		r := req.Clone(ctx)
		if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, errNoReplay
			}
			if r.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("fapi: resource request body: %w", err)
			}
		}
		r.Header.Set("Authorization", c.TokenScheme()+" "+accessToken)
		r.Header.Del("DPoP")
		if key != nil {
			proof, err := c.proofFor(key, r, accessToken)
			if err != nil {
				return nil, err
			}
			r.Header.Set("DPoP", proof)
		}
		res, err := c.hc.Do(r)
		if err != nil {
			return nil, fmt.Errorf("fapi: resource: %w: %w", ErrUnavailable, err)
		}
		if key == nil {
			return res, nil
		}
		n := res.Header.Get("DPoP-Nonce")
		if !validNonce(n) {
			return res, nil
		}
		c.nonce.set(originOf(r.URL), n)
		if attempt > 0 || res.StatusCode != http.StatusUnauthorized || !dpopNonceChallenge(res.Header) {
			return res, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
	}
}

// dpopNonceChallenge reports WWW-Authenticate: DPoP error="use_dpop_nonce".
func dpopNonceChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		for _, ch := range parseChallenges(v) {
			if strings.EqualFold(ch.scheme, "DPoP") && ch.params["error"] == "use_dpop_nonce" {
				return true
			}
		}
	}
	return false
}
