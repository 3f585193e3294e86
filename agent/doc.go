// Package agent is fapid's OAuth Agent: the backend-for-frontend of the
// token-handler pattern. A single-page application calls it to log in; from
// then on the browser holds only sealed, HttpOnly cookies, and no token ever
// reaches JavaScript. Its HTTP API is that of Curity's open-source OAuth
// Agent (Gen-1), so existing SPAs and Curity's helpers work unchanged, and it
// is stricter where Curity's is not (nonce and full ID-token checks, cookie
// names bound into the ciphertext, __Host- cookies cleared with the
// attributes they were set with, constant-time CSRF, exact origins).
//
// # Endpoints
//
// Below Config.BasePath (default /oauth-agent), JSON in and out:
//
//	POST login/start  {"extraParams":[{"key","value"}]}? → {"authorizationRequestUrl"}
//	POST login/end    {"pageUrl"} → {"handled","isLoggedIn","csrf"?}
//	GET  session      → {"isLoggedIn","idTokenClaims"?,"accessTokenExpiresIn"?}
//	GET  userInfo     → the authorization server's userinfo claims
//	GET  claims       → the ID token's claims
//	POST refresh      → 204, rotated cookies
//	POST logout       → {"url"?} (end-session URL), every cookie cleared
//
// Errors are {"code","message"}: 401 unauthorized_request (origin, CSRF,
// missing or undecryptable cookie), 400 invalid_request, 400
// authorization_error (the server rejected a back-channel request), 401
// token_expired, 401 session_expired (cookies cleared), 502
// authorization_server_error, 500 server_error; a front-channel error keeps
// its own code (400; 401 for login_required).
//
// Every call must carry exactly one Origin equal to a trusted origin; CORS
// answers name only that origin, with credentials, and Vary: Origin. POST
// refresh and logout also need x-<prefix>-csrf equal (constant time) to the
// sealed CSRF cookie, or, in CSRFCustomHeader mode, every call carries
// token-handler-version: 1 instead.
//
// # Login
//
// login/start pushes a signed request object (RFC 9126 PAR, RFC 9101 JAR)
// with state, nonce and a PKCE S256 challenge (RFC 7636), authenticating
// with private_key_jwt (RFC 7523) or tls_client_auth (RFC 8705), and, for a
// DPoP client, a DPoP proof binding the code to the key (RFC 9449 §10). The
// SPA may add only the parameters in Config.ExtraParams (default prompt,
// login_hint, ui_locales, acr_values, max_age); a protocol parameter
// (redirect_uri, client_id, state, …) is refused before any call to the
// server. redirect_uri and post_logout_redirect_uri come only from the
// configuration: no Host or X-Forwarded-* header is ever read. The login
// state is sealed into the login cookie for ten minutes and used once.
//
// login/end accepts code+state+iss (RFC 9207), error+state, or a JARM
// response (response_mode=jwt), validated by package fapi (FAPI 2.0
// Security Profile §5.3.3.2, Message Signing §5.4), redeems the code once and
// validates the ID token (OpenID Connect Core §3.1.3.7, nonce included).
//
// # Cookies
//
// __Host-<prefix>-{login,at,rt,id,csrf}: Secure, HttpOnly, SameSite=Strict,
// Path=/, no Domain (RFC 6265bis §4.1.3.2). Each value is sealed by
// internal/seal (AES-256-GCM, AAD = version ‖ cookie name, the absolute
// session end inside; several keys: the first seals, all open) and, when
// longer than one cookie allows, split by internal/cookies into pieces whose
// Set-Cookie lines stay within 4096 bytes. The gateway reads two of them:
// -at holds the raw access token and -csrf the CSRF token. -rt holds a small
// JSON record (refresh token, access-token expiry, subject), -id the ID token
// and -login the login state. A cookie that is present but does not open
// ends the session: 401 and every cookie cleared.
//
// Config.Compat = CompatCurityV1 reads and writes Curity's Gen-1 cookies
// instead (<prefix>-{login,at,auth,id,csrf}, internal/seal.CurityV1), so a
// deployment can replace Curity's agent without logging users out, or keep
// Curity's gateway plugins.
//
// # Refresh
//
// Concurrent refreshes of one session become one refresh-token grant; its
// outcome is kept for Config.RefreshGrace so that late callers with the old
// refresh token get the new cookies rather than replaying a rotated-out
// token. invalid_grant ends the session (401 session_expired, cookies
// cleared).
//
// # DPoP key
//
// With DPoP-bound tokens the agent uses one deployment key
// (Config.FAPI.DPoPSigner, loaded through internal/keys, so it can live in an
// HSM) for every session, rather than a key per session sealed into a
// cookie. The private key then never leaves the server: a stolen cookie jar,
// even if the cookie key leaked too, yields tokens that are useless without
// the server's key, whereas a per-session key sealed beside the token would
// leak with it. Cookies stay small, no key is generated per login, and the
// gateway, configured with the same key, can sign the upstream proofs (with
// ath) for cookie requests. Rotating the key invalidates DPoP-bound tokens;
// sessions then end at their next refresh.
//
// # Metadata
//
// Discovery is repeated when the metadata are older than
// Config.MetadataMaxAge and after failures that suggest the server changed
// (an unknown signing key, an endpoint gone), at most once per
// Config.RediscoverInterval; fresh metadata bring a fresh JWKS cache. Call
// [Agent.Discover] at start: an issuer that differs from the configured one
// by one byte refuses the start (CASES H09).
//
// # Logging
//
// Config.Logger receives one line per login, refresh, logout and refused
// request, never a token, code, cookie, key or URL query.
package agent
