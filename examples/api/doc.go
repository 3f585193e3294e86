// Package api is the example resource server that sits behind the fapid
// gateway: it shows what an API must check when the gateway hands it a
// sender-constrained JWT access token.
//
// It accepts requests only over mutual TLS (RFC 8446, RFC 8705): the
// listener requires and verifies a client certificate ([ServerTLSConfig]),
// normally the gateway's. Every request under the path prefix must carry
// "Authorization: Bearer <JWT>" (RFC 6750 §2.1; never the query string or
// the body), and the JWT must pass, in this order:
//
//   - the JOSE allowlist of internal/jws (PS256, ES256, EdDSA; none, HS* and
//     RS* are refused before any key work) with a key from the configured
//     JWKS (RFC 7517), fetched and cached by fapi.JWKSCache;
//   - "typ" absent, "JWT", "at+jwt" (RFC 9068 §2.1) or
//     "token-introspection+jwt" (RFC 9701: the gateway may forward the
//     signed introspection answer as is; the token's claims are then read
//     from "token_introspection", which must be active); any other explicit
//     type (an ID token is never typed, a DPoP proof is) is refused;
//   - "iss" equal to Config.Issuer (RFC 7519 §4.1.1), "aud" containing
//     Config.Audience when set (§4.1.3), "exp" present and not more than 60 s
//     in the past, "nbf"/"iat" not more than 60 s in the future;
//   - the sender constraint: "cnf"."x5t#S256" (RFC 8705 §3.1) must equal
//     base64url(SHA-256(DER of the client certificate of this connection)),
//     and "cnf"."jkt" (RFC 9449 §6.1) needs a DPoP proof in the DPoP header
//     for this request (htm, htu from Config.PublicURL, ath of the JWT, the
//     proof key's thumbprint, a jti not seen before). A token with no cnf is
//     refused unless Config.AllowUnbound is set: FAPI 2.0 access tokens are
//     always sender-constrained.
//
// A refused request gets 401 with a WWW-Authenticate challenge (RFC 6750 §3,
// RFC 9449 §7.1) and a JSON body {"code","message"} that says nothing about
// the token; the reason goes to Config.Logger. A JWKS that cannot be fetched
// gives 503, never 401. An accepted request gets JSON describing what was
// verified (sub, scope, client_id, iss, aud, exp, the binding, the client
// certificate subject, method, path and time).
package api
