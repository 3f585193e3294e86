// Package e2e proves fapid's main job in a real browser: it builds the fapid
// command, runs `fapid demo` as a user would (embedded PKI, the reference
// FAPI 2.0 authorization server, fapid's agent and gateway, the example API
// and the example SPA on its own origin of the same site) and drives Debian's
// headless Chromium through the DevTools protocol (chromedp) across the real
// login and consent pages.
//
// The test trusts the demo's CA strictly, through a private NSS database
// under a scratch HOME, and asserts what the token-handler pattern promises
// (OAuth 2.0 for Browser-Based Applications, draft-ietf-oauth-browser-based-
// apps §6.1; FAPI 2.0 Security Profile): after the authorization code flow
// with PAR (RFC 9126), signed request objects (RFC 9101), PKCE (RFC 7636) and
// JARM, the SPA shows the ID token's claims and the API's answer for the
// user's sub, reached through the gateway with a certificate-bound token
// (RFC 8705); document.cookie is empty (HttpOnly cookies, RFC 6265bis); no
// response that reached the browser carries a JWT (RFC 7519) or the opaque
// access or refresh token; refresh and RP-initiated logout work; a screenshot
// of the signed-in page is kept. It also checks that the demo leaves no
// process behind when interrupted.
//
// Requirements: chromium and certutil (Debian: apt-get install chromium
// libnss3-tools) and Node.js 20+ with npm. Outside CI (CI=true) the test skips
// when chromium or Node.js is missing. FAPID_E2E_ARTIFACTS names a folder for
// the screenshot; FAPID_E2E_BINARY runs an already built fapid instead of
// building one.
package e2e
