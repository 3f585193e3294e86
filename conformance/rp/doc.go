// Package rp is fapid's in-repo FAPI 2.0 client conformance harness: a test
// authorization server that misbehaves on purpose, the modules of the OpenID
// Foundation's FAPI 2.0 client test plans that apply to the plain_fapi
// profile, every variant of those plans, and a runner that drives fapid's
// OAuth Agent through its own HTTP API as a single-page application would.
//
// # Plans, variants, modules
//
// fapi2-security-profile-final-client-test-plan and
// fapi2-message-signing-final-client-test-plan, for client_auth_type
// private_key_jwt | mtls, sender_constrain dpop | mtls, fapi_client_type
// oidc | plain_oauth and, in the Message Signing plan, fapi_request_method
// unsigned | signed_non_repudiation and fapi_response_mode plain_response |
// jarm: 8 + 32 variants. The 30 modules (see Modules) are the happy paths,
// the discovery issuer mismatch, the RFC 9207 iss and state faults of the
// authorization response, the twelve ID-token modules (OpenID Connect Core
// §3.1.3.7), expires_in absent, token_type in odd case, the resource's DPoP
// nonce challenge in odd case (RFC 9110 §11.1) and the eight JARM modules.
// A module is listed for a variant exactly when the suite lists it; a
// combination this client cannot take part in (the agent always signs its
// request object, so the unsigned tls_client_auth runs are impossible) is
// SKIPPED with the reason.
//
// # The test authorization server
//
// Real TLS on loopback with certificates from package pki: a front host and
// an mTLS host for the mtls_endpoint_aliases (RFC 8705 §5), which its
// metadata always publishes. Each module run is its own server with its own
// issuer (with a trailing slash, like the suite's), PS256 signing key, ES256
// and EdDSA decoys sharing its kid and an RSA key published without alg
// (FAPI 2.0 SP 5.4.3). Inside every module it checks what the suite checks:
// client assertions (RFC 7523: aud the issuer as a string, FAPI 2.0 SP
// 5.3.3.1-5; jti never reused across PAR and token), PAR (RFC 9126: no
// request_uri) and the request object (RFC 9101, FAPI 2.0 Message Signing
// 5.3.2: iss, aud, exp ≤ 60 min, nbf), only client_id and request_uri at the
// authorization endpoint (SP 5.3.3.2-6), PKCE S256 (RFC 7636) with a verifier
// never reused, the scope byte for byte, tls_client_auth and
// certificate-bound tokens on the mTLS alias with the registered
// certificate, DPoP proofs (RFC 9449: htu exactly the endpoint URL, no ath
// at the authorization server, ath and the bound key at the resource, jti
// never reused) with nonces (10–30 NQCHARs) demanded at PAR, token and
// resource, rotated on every answer and never sent unasked, so that every
// call meets use_dpop_nonce first, and the access token only in the
// Authorization header
// (RFC 6750 §2.1). The agent calls no resource of its own for a browser
// other than userinfo, so the userinfo endpoint plays the suite's accounts
// endpoint: the happy path ends on a correct, sender-constrained call to it.
//
// # Verdicts
//
// A module is judged by what the client called: a failed check fails it; a
// happy module passes when the resource call arrives; a fault module passes
// when its faulty message (discovery document, authorization response, ID
// token) went out and no PAR, authorization, token or resource call
// followed, and the agent reported no session. The SPA always asks for
// userInfo at the end, so a client that made a session despite the fault is
// caught calling the resource.
//
// The gateway's side, the DPoP cases the suite sends to a resource server,
// is tested in gateway_dpop_test.go against package gateway.
package rp
