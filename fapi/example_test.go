package fapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cillers/fapid/fapi"
	"github.com/cillers/fapid/internal/jws"
)

// The S256 challenge of the RFC 7636 Appendix B verifier.
func ExamplePKCEChallenge() {
	fmt.Println(fapi.PKCEChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
	// Output: E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
}

// A DPoP proof toward a resource server carries ath; the resource server's
// check returns the key thumbprint to compare with the token's cnf.jkt.
func ExampleNewDPoPProof() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jws.NewSigner(key, "")
	now := time.Unix(1800000000, 0)
	proof, _ := fapi.NewDPoPProof(signer, fapi.DPoPProof{
		Method:      "GET",
		URL:         "https://api.example.test/accounts?page=2",
		AccessToken: "opaque-access-token",
		Now:         now,
		Rand:        bytes.NewReader(make([]byte, 32)), // pinned for the example
	})
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(proof, ".")[1])
	fmt.Println(string(payload))

	v, err := fapi.VerifyDPoPProof(proof, fapi.DPoPCheck{
		Method: "GET", URL: "https://api.example.test/accounts?page=2",
		AccessToken: "opaque-access-token", Now: now.Add(2 * time.Second),
	})
	jkt, _ := jws.Thumbprint(&key.PublicKey)
	fmt.Println(err, v.JKT == jkt)
	// Output:
	// {"jti":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","htm":"GET","htu":"https://api.example.test/accounts","iat":1800000000,"ath":"ziBUtZEpY5JqE5mEv5FPe8jxfREaojHC2Eo9VfATgy4"}
	// <nil> true
}

// PAR with a signed request object, then the callback and the code
// exchange, as the agent does it.
func ExampleClient_PushAuthorizationRequest() {
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // in fapid: keys.Load(ctx, "file:…")
	signer, _ := jws.NewSigner(key, "agent-1")
	mtls := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ /* tlsx.ClientConfig(…) */ }}}
	c, err := fapi.NewClient(fapi.Config{
		Issuer:         "https://login.example.test/oauth/v2/oauth-anonymous",
		ClientID:       "agent",
		AuthMethod:     fapi.AuthPrivateKeyJWT,
		Signer:         signer,
		HTTPClient:     mtls,
		UseMTLSAliases: true,
		ResponseMode:   fapi.ResponseModeJWT,
		Scopes:         []string{"openid", "accounts"},
		RedirectURI:    "https://www.example.test/callback",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	start, err := c.PushAuthorizationRequest(ctx, fapi.AuthorizationRequest{Extra: map[string]string{"prompt": "login"}})
	if err != nil {
		fmt.Println(err) // *fapi.OAuthError for an AS error answer, fapi.ErrUnavailable when down
		return
	}
	// Seal start.Login into the login cookie; send the browser to start.URL.
	// On return to the redirect URI:
	ar, err := c.HandleCallback(ctx, "https://www.example.test/callback?response=…", start.Login)
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := c.ExchangeCode(ctx, ar.Code, start.Login, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.TokenType, tok.IDToken.Subject)
}
