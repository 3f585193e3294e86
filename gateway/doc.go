// Package gateway is fapid's OAuth proxy for APIs: it accepts the agent's
// sealed cookie or an opaque access token, turns the token into a JWT by
// introspection (the Phantom Token pattern), checks that the token is used
// by its holder and has the route's scopes, and forwards the request to
// the API over mutual TLS with "Authorization: Bearer <JWT>" (for the
// agent's DPoP-bound sessions "DPoP <JWT>" and a proof it signs). It never
// fails open: when the authorization server is slow or down the answer is
// 503, never 200 and never 401.
//
// Specifications: FAPI 2.0 Security Profile §5.3.4 (resource server),
// RFC 6750 (Bearer; §2.1 header, §2.3 never the query, §3 errors),
// RFC 7662 (introspection; §4 caching), RFC 9701 (JWT introspection
// answers), RFC 9068 (minted at+jwt), RFC 8705 §3 (certificate-bound
// tokens, cnf x5t#S256), RFC 9449 (DPoP: §4.3 proof checks, §7 the DPoP
// scheme, §8–9 nonces), RFC 3986 §6 (path normalisation), RFC 9110
// (WWW-Authenticate, 431 from RFC 6585), RFC 9114 (HTTP/3), RFC 7838
// (Alt-Svc), RFC 6265bis (__Host- cookies).
//
// # One request
//
//  1. The decoded header block is at most Config.MaxHeaderBytes (else 431).
//  2. The path is canonicalised once (canonicalPath): escaped unreserved
//     characters decoded, dot segments removed; "//", escaped dots, "..;",
//     escaped '/' or '\\', double escapes → 400. Routing and forwarding use
//     this one form; X-Forwarded-Uri and friends are never read.
//  3. The route (longest prefix) names the accepted credentials. The token
//     comes from the single Authorization header (Bearer or DPoP, any case;
//     two headers → 400) or, for browsers, from the agent's cookie. Its
//     length and characters are checked before anything else (absurd
//     tokens cost a byte scan, never an introspection).
//  4. The token cache is looked up by SHA-256(token) and the authorization
//     server's identity. A miss introspects, with one call for any number
//     of concurrent requests (singleflight), a deadline
//     (IntrospectionTimeout), a bound on calls in flight and a circuit
//     breaker. Entries live min(exp − Cache.Skew, Cache-Control max-age,
//     Cache.MaxTTL); inactive answers are kept Cache.NegativeTTL and never
//     become positive entries. Cache-Control no-store on an answer (which
//     most servers send on every OAuth answer) is an HTTP-cache directive,
//     not a bound. A hit costs no JSON and no signature work.
//  5. Every request, cached or not: exp, audience, the sender constraint
//     (cnf x5t#S256 against the connection's leaf certificate — for cookie
//     requests against Config.SessionCertificate, the agent's identity;
//     cnf.jkt with a full DPoP proof check, a jti replay cache and optional
//     nonces — for cookie requests equal to the deployment key's
//     thumbprint), whether the route can forward a jkt-bound token (below)
//     and the route's scopes (403 insufficient_scope).
//  6. httputil.ReverseProxy with Rewrite: Authorization, DPoP, our cookies
//     and CSRF header, X-Forwarded-*, X-Original-*, Forwarded, X-Real-Ip,
//     X-Client-Cert and Connection-named headers are dropped; our own
//     X-Forwarded-For/-Proto/-Host are set (right-to-left walk through
//     Config.TrustedProxies); the JWT is set; access_token is removed from
//     the query. Upstream TLS follows internal/tlsx with the route's CA
//     bundle and client certificate.
//  7. A token bound to the deployment DPoP key (Config.SessionDPoPSigner,
//     the agent's sessions) goes upstream as "Authorization: DPoP <JWT>"
//     with a proof the gateway signs with that key (see below); every
//     other token as "Authorization: Bearer <JWT>".
//
// Errors are JSON {"code","message"} with no internals: 400
// invalid_request; 401 invalid_token / invalid_dpop_proof / use_dpop_nonce
// (with WWW-Authenticate Bearer or DPoP, RFC 6750 §3 and RFC 9449 §7.1) or
// unauthorized_request (cookie, Origin, CSRF); 403 insufficient_scope; 404
// not_found; 431; 502 authorization_server_error (an answer that fails
// verification is also logged as an alert: a bad signature from our own
// authorization server is an incident) or bad_gateway (upstream); 503
// temporarily_unavailable with Retry-After.
//
// # DPoP toward the upstream (DESIGN §4 step 6)
//
// The agent binds every browser session to one deployment key rather than
// a key per session (see package agent: the key never leaves the server
// or its HSM, cookies stay small, and the gateway can use the same key).
// For such a request the gateway signs a fresh RFC 9449 proof per
// upstream request: htm the method, htu the route's UpstreamPublicURL (or
// Upstream) with the forwarded path, iat now, a random jti, ath =
// base64url(SHA-256(the JWT it forwards)), and the upstream's latest
// DPoP-Nonce if it uses nonces (§9; a request without a body is resent
// once on use_dpop_nonce; the nonce never reaches the browser). The API
// then checks cnf.jkt itself, as it checks cnf.x5t#S256 against the
// gateway's client certificate. A signing failure (HSM away) is 503.
//
// A mobile or partner client holds its own DPoP key. The gateway checks
// its proof (htu the gateway, ath the opaque token) and cannot produce one
// the API could check: it cannot sign with the client's key, the client's
// proof names the wrong URL and token, and re-binding a minted token to
// the gateway's key would tell the API the gateway is the holder, erasing
// the client's binding from what the API sees. So the route decides
// (Route.UpstreamTrustsGatewayDPoP): either its upstream relies on the
// gateway's check and receives "Authorization: Bearer <JWT>" (the JWT
// still carries cnf.jkt; the upstream must authenticate the gateway by
// mutual TLS), or, by default, the gateway answers 401 invalid_token
// rather than send a request a conforming upstream refuses (RFC 9449
// §7.2). Forward-auth applies the same rule to every jkt-bound token: the
// proxy, not the gateway, sends the upstream request. (Tokens bound to a
// partner's certificate have the analogous limit: the upstream sees the
// route's UpstreamCertificate, so only cookie sessions and clients using
// the gateway's own identity can be checked by the API itself.)
//
// # Cookie contract with the agent
//
// The agent writes, the gateway reads (internal/cookies holds the shared
// code). With prefix P (Config.CookiePrefix, default "fapid"):
//
//   - __Host-P-at: seal.Sealer.Seal("__Host-P-at", rawAccessToken, expiry),
//     split with cookies.Split when longer than cookies.DefaultChunkSize
//     into __Host-P-at, __Host-P-at-1, …; the sealed text is split, so any
//     changed, dropped, reordered or foreign piece fails to open. Writers
//     send cookies.Expire(r, name, len(pieces)) with a shorter value.
//   - __Host-P-csrf: seal.Sealer.Seal("__Host-P-csrf", csrfToken, expiry).
//   - Attributes: Secure; HttpOnly; SameSite=Strict; Path=/; no Domain.
//
// Every cookie request must carry exactly one Origin header equal byte for
// byte to one of Config.TrustedOrigins ("null" never matches). Every
// cookie request whose method is not GET, HEAD or OPTIONS must carry
// exactly one x-P-csrf header equal, in constant time, to the opened
// __Host-P-csrf cookie. Failures are 401 unauthorized_request. CORS
// preflights on cookie routes are answered here (trusted origins only)
// and answers to cookie requests carry Access-Control-Allow-Origin and
// -Credentials. A session's token bound with cnf x5t#S256 must be bound to
// the agent's client certificate (Config.SessionCertificate), which routes
// normally present upstream too, so the API can check cnf itself. A
// session's token bound with cnf.jkt must be bound to the deployment key
// (Config.SessionDPoPSigner, the agent's fapi.Config.DPoPSigner); any
// other jkt is refused (401).
//
// # Forward-auth
//
// ForwardAuthHandler (or Config.ForwardAuthPath within Handler) runs the
// same pipeline for nginx auth_request, Traefik forwardAuth, Kong or Envoy:
// 200 with the JWT in Config.ForwardAuthHeader (X-Auth-JWT), or the same
// error answers. Only Config.TrustedProxies may call it (403 otherwise:
// the answer carries the JWT). They send the original method and URI
// (X-Original-Method and X-Original-URI, or X-Forwarded-Method and
// X-Forwarded-Uri) and, for certificate-bound tokens, the client
// certificate (X-Client-Cert, nginx $ssl_client_escaped_cert). For nginx:
//
//	location / {
//	    auth_request /_fapid_auth;
//	    auth_request_set $fapid_jwt $upstream_http_x_auth_jwt;
//	    proxy_set_header Authorization "Bearer $fapid_jwt";
//	    proxy_pass https://api;
//	}
//	location = /_fapid_auth {
//	    internal;
//	    proxy_pass https://fapid:8443/_fapid/auth;
//	    proxy_pass_request_body off; proxy_set_header Content-Length "";
//	    proxy_set_header X-Original-URI $request_uri;
//	    proxy_set_header X-Original-Method $request_method;
//	    proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
//	}
//
// # Serving
//
// New(cfg) builds a Gateway; Handler serves it. HTTPServer returns an
// http.Server with the header limit and timeouts for the TCP listener
// (HTTP/1.1 and HTTP/2) and ServeHTTP3 serves the same handler over QUIC
// on a UDP socket of the same port, with 0-RTT off and the same header
// limit; once it runs, TCP answers carry Alt-Svc. Pass both the tls.Config
// from internal/tlsx.ServerConfig (ClientAuth request or require, the
// client CA bundle), so certificate-bound tokens work over either.
// Introspection clients come from NewFAPIIntrospector(*fapi.Client).
package gateway
