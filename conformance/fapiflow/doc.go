// Package fapiflow proves package fapi against a real, OpenID-certified FAPI 2.0 authorization
// server: node-oidc-provider 9.13.3, started by package conformance/interop. It holds tests only.
//
// Every test drives the protocol through the public fapi.Client API (no hand-written protocol
// messages) for the six client variants fapid supports —
// {private_key_jwt + mTLS-bound tokens, tls_client_auth + mTLS-bound tokens, private_key_jwt +
// DPoP-bound tokens} × {JARM, plain code+iss response} — through the whole life of a login:
//
//   - discovery (OpenID Connect Discovery 1.0, RFC 8414; exact issuer, FAPI 2.0 SP 5.3.3.1-11);
//   - a pushed authorization request (RFC 9126) carrying a signed request object (RFC 9101,
//     FAPI 2.0 Message Signing 5.3.2) with PKCE S256 (RFC 7636);
//   - the headless login and consent, then the authorization response: code, state and iss
//     (RFC 9207) or a JARM response JWT;
//   - the code exchange with private_key_jwt (RFC 7523) or tls_client_auth (RFC 8705 §2), the
//     ID token (OpenID Connect Core 1.0 §3.1.3.7), and certificate-bound (RFC 8705 §3) or DPoP-bound
//     (RFC 9449) access tokens;
//   - introspection by a resource-server client as RFC 7662 JSON and as an RFC 9701 signed JWT,
//     with the cnf binding checked (x5t#S256 or jkt);
//   - refresh with rotation (RFC 6749 §6, RFC 9700 §4.14.2: the rotated-out refresh token is
//     refused, and its replay ends the grant), userinfo (OpenID Connect Core 1.0 §5.3),
//     revocation (RFC 7009) and RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0);
//   - the DPoP nonce retry (RFC 9449 §8, §9) against a server that demands nonces.
//
// Under CI=true the tests never skip; elsewhere they skip only when Node.js is missing.
package fapiflow
