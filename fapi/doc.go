// Package fapi is the FAPI 2.0 client protocol of fapid: what the agent (a
// backend-for-frontend) and the gateway (a resource server) say to an
// authorization server, and how they check what it says back.
//
// It speaks only TLS, uses only metadata from discovery, signs and verifies
// every JOSE object through internal/jws (PS256, ES256, EdDSA — never none,
// HS* or RS*), never logs, and returns typed errors. It runs no HTTP server.
//
// # Flow
//
//	c, _ := fapi.NewClient(fapi.Config{Issuer: ..., ClientID: ..., Signer: ..., HTTPClient: mtls, ...})
//	start, _ := c.PushAuthorizationRequest(ctx, fapi.AuthorizationRequest{})  // PAR + JAR + PKCE
//	// seal start.Login into the login cookie, redirect the browser to start.URL
//	ar, _ := c.HandleCallback(ctx, callbackURL, login)                        // iss+state, or JARM
//	tok, _ := c.ExchangeCode(ctx, ar.Code, login, nil)                         // + ID token checks
//	tok, _ = c.Refresh(ctx, fapi.RefreshRequest{RefreshToken: tok.RefreshToken})
//	ui, _ := c.UserInfo(ctx, tok.AccessToken, fapi.UserInfoOptions{Subject: tok.IDToken.Subject})
//	_ = c.Revoke(ctx, tok.RefreshToken, "refresh_token")
//	logout, _ := c.EndSessionURL(ctx, tok.IDToken.Raw, "")
//
// The gateway uses a Client of its own (its own client_id) for Introspect,
// and VerifyDPoPProof for incoming DPoP proofs.
//
// # Specifications
//
//   - FAPI 2.0 Security Profile (final) and FAPI 2.0 Message Signing: the
//     profile this package implements (PAR, PKCE S256, iss check, sender-
//     constrained tokens, aud = issuer string, JAR, JARM, RFC 9701).
//   - RFC 6749 OAuth 2.0 and RFC 6750 Bearer Token Usage.
//   - RFC 7636 PKCE (S256, 32-byte verifiers).
//   - RFC 9126 Pushed Authorization Requests (201, request_uri, expires_in;
//     the authorization URL carries only client_id and request_uri).
//   - RFC 9101 JWT-Secured Authorization Request (typ oauth-authz-req+jwt).
//   - JWT Secured Authorization Response Mode for OAuth 2.0 (JARM).
//   - RFC 9207 Authorization Server Issuer Identification.
//   - RFC 7523 JWT client authentication (private_key_jwt) and OpenID
//     Connect Core 1.0 §9.
//   - RFC 8705 OAuth 2.0 Mutual-TLS (tls_client_auth, certificate-bound
//     tokens, mtls_endpoint_aliases).
//   - RFC 9449 DPoP (client proofs with nonce retry; resource-server checks).
//   - RFC 7662 Token Introspection and RFC 9701 JWT Response for Token
//     Introspection; Curity's Accept: application/jwt variant.
//   - RFC 7009 Token Revocation; OpenID Connect Core 1.0 (ID token, userinfo),
//     Discovery 1.0, RFC 8414 metadata, RP-Initiated Logout 1.0.
//   - RFC 8707 Resource Indicators; RFC 8725 JWT Best Current Practices.
//
// # Errors
//
// Every error wraps a kind callers can branch on with errors.Is:
// ErrConfig (our mistake), ErrMetadata / ErrNoEndpoint (discovery),
// ErrUnavailable (network, timeout, 5xx, 429: try later),
// ErrUnexpectedResponse (wrong status or body), the Err…Invalid… kinds for
// failed validation (ErrInvalidAuthorizationResponse, ErrInvalidJARM,
// ErrInvalidIDToken, ErrInvalidTokenResponse, ErrInvalidUserInfo,
// ErrInvalidIntrospection, ErrInvalidDPoPProof), each with a reason such as
// ErrIssuerMismatch, ErrAudience, ErrExpired, ErrState, ErrNonce or
// ErrSignature (which wraps the internal/jws cause, e.g. jws.ErrAlgorithm).
// OAuth error answers are *OAuthError; ErrDPoPNonce marks a nonce demand.
// No error string contains a token, code, assertion or key.
//
// # Time and randomness
//
// Config.Now and Config.Rand are injectable; the clock skew accepted on
// exp, nbf and iat defaults to 60 s (an exp 61 s ago is refused, 30 s ago
// accepted). Generated iat/nbf are never in the future.
package fapi
