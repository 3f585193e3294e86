// Package spa serves the example single-page application: static HTML, one
// JavaScript file and a little CSS, embedded in the binary, plus the
// config.json the page reads at start-up.
//
// The page talks to fapid's OAuth agent exactly like Curity's token-handler
// SPAs (DESIGN.md §3): fetch with credentials "include"; POST login/end with
// {"pageUrl": location.href} on every load (it finishes a login on the
// callback and says whether a session exists, with its CSRF token); the CSRF
// token kept in memory only and sent as x-<cookiePrefix>-csrf on every POST
// and API call; login/start then a top-level navigation to the
// authorizationRequestUrl; GET claims and userInfo; the API called through
// the gateway, with one refresh and retry on 401; logout then a navigation
// to the end-session URL. It never touches localStorage, sessionStorage or
// document.cookie, and no token ever reaches it.
//
// [Handler] adds strict security headers to every answer: a
// Content-Security-Policy (W3C CSP Level 3) that allows scripts, styles and
// images from the page's own origin only and connections to its origin, the
// agent's and the API's (taken from the configuration), with framing
// forbidden; HSTS (RFC 6797); X-Content-Type-Options: nosniff;
// Referrer-Policy: no-referrer (the callback URL carries the authorization
// code); X-Frame-Options: DENY; Cross-Origin-Opener-Policy and
// Cross-Origin-Resource-Policy same-origin.
//
// The page is meant to be served from its own origin (a CDN in production),
// a different origin than the agent and gateway but the same site, so that
// the browser applies CORS and SameSite=Strict cookies as in production.
// fetch() runs in "cors" mode, so browsers send the page's real Origin on
// every call despite Referrer-Policy: no-referrer (Fetch §3.1).
package spa
