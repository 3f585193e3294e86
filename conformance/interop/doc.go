// Package interop runs the reference FAPI 2.0 authorization server used by fapid's tests and by
// the sandbox demo: node-oidc-provider 9.13.3 (pinned with a committed package-lock.json in op/),
// configured by server.mjs from a JSON file this package writes.
//
// The server implements, for the clients described by [Client]:
//   - FAPI 2.0 Security Profile and Message Signing (OpenID FAPI 2.0): PAR (RFC 9126) required,
//     signed request objects (RFC 9101) required, PKCE S256 (RFC 7636), JARM, and the RFC 9207
//     iss parameter on plain responses;
//   - client authentication by private_key_jwt (RFC 7523, OIDC Core §9) or tls_client_auth
//     (RFC 8705 §2, matched on the subject DN);
//   - sender-constrained tokens by mTLS (RFC 8705 §3) or DPoP (RFC 9449), optionally with
//     server-provided DPoP nonces;
//   - opaque access tokens for one API resource (RFC 8707), introspection as JSON (RFC 7662) or as
//     a signed JWT (RFC 9701), refresh-token rotation, userinfo, revocation (RFC 7009) and
//     RP-initiated logout.
//
// [Start] installs the pinned npm packages when needed (npm ci, guarded by a file lock and a stamp
// of the lock file's hash), starts node in its own process group and waits for it to listen.
// [Server.Stop] ends the whole process group. Node also exits when its stdin closes, so a test
// binary that is killed leaves no server behind.
//
// [Browser] is a headless user agent that walks the server's login and consent pages, so tests
// can run the authorization code flow end to end without a real browser.
//
// Node.js 20 or later and npm are required (Debian: apt-get install nodejs npm).
package interop
