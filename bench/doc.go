// Package bench is fapid's benchmark harness: what the gateway and the
// agent cost, measured on loopback side by side with the physical limit
// (the upstream API alone) and a bare reverse proxy, in one run, so that
// every figure can be read as a ratio on a noisy shared machine.
//
// Run it from the repository root (about 4 minutes on 2 cores; --help lists
// the knobs):
//
//	go run ./bench/cmd/fapidbench
//
// # What runs
//
// Every server is a child process (this binary, re-executed with
// FAPIDBENCH_ROLE set), so that CPU is measured per process with getrusage
// and the load generator's share is never counted as the server's:
//
//   - backends: the upstream API (TLS, client certificates requested and
//     verified: mTLS-capable; a fixed 100-byte JSON answer, as in
//     research/perf-anchors.md) and a stateless FAPI 2.0 authorization
//     server stand-in over TLS: discovery, JWKS, introspection in Curity's
//     phantom-token form (RFC 7662 with Accept: application/jwt, a freshly
//     signed ES256 JWT per call, 204 when inactive), PAR (RFC 9126) and a
//     token endpoint with a signed ID token.
//   - bare: httputil.ReverseProxy with Rewrite (SetURL, SetXForwarded, a
//     fixed Authorization: Bearer <JWT>) over TCP and HTTP/3, configured
//     like the gateway: the same internal/tlsx server policy, client
//     certificates requested, header limits and timeouts, and the same
//     upstream transport (FAPI client TLS, the session certificate, HTTP/2,
//     256 idle connections per host).
//   - gateway (twice: one for scenarios a–d, one alone for e, whose
//     growing cache would otherwise make a–d's garbage collection cheaper):
//     gateway.New wired as cmd/fapid wires it, introspecting through
//     internal fapi (Curity mode, tls_client_auth) over real TLS, opening
//     the agent's cookies with internal/seal, served by HTTPServer and
//     ServeHTTP3.
//   - agent: agent.New (private_key_jwt, PAR + JAR + PKCE, certificate-bound
//     tokens, query response mode) on a TLS listener.
//
// # Targets
//
// direct (the upstream), bare, bare-h3, then the gateway: (a) the agent's
// sealed cookie with a cached, certificate-bound token (cnf x5t#S256 of
// the session certificate); (b) Bearer with a cached unbound token on a
// route that allows them; (c) Bearer over mTLS with a token bound to the
// client's certificate; (d) HTTP/3 (quic-go client) with the cookie; (e)
// Bearer with a new token on every request, so every request is one
// introspection. The cookies are the ones a real login through the agent
// (login/start, the stand-in's redirect, login/end) leaves in the browser;
// direct and bare receive the same browser request (cookies and Origin).
//
// The load generator is a closed loop of Options.Concurrency workers, each
// with one keep-alive HTTP/1.1 connection (as wrk) or one QUIC connection,
// sending the next request as soon as the previous answer is read. Every
// target is warmed up, then measured in Options.Rounds short interleaved
// rounds (forward, backward, forward…), each gateway target run right
// after the bare proxy that receives the same request over the same
// protocol (its baseline: bare, bare-bearer or bare-h3). Each absolute
// figure is the median over the rounds; each ratio is the median of the
// per-round ratios of adjacent runs, which cancels most of the drift a
// shared machine adds. Per request: req/s, p50 and p99 latency, the CPU
// and the allocations of the proxy process, the CPU of the backends
// process and of the load generator, and the share of the machine other
// processes used meanwhile (from /proc/stat: the noise indicator).
//
// On a 2-core machine the load generator, the proxy and the upstream
// share the same cores, so every target runs CPU-bound and its req/s is
// close to the inverse of the total CPU per request (client + proxy +
// upstream). The proxy's CPU per request is the least noisy figure and
// the one DESIGN §7 budgets: "CPU ×baseline" is the bare proxy's CPU per
// request divided by the gateway's. --profile DIR (with a longer -d)
// writes a pprof CPU profile of every proxy process from one extra run.
//
// # Beyond throughput
//
//   - Singleflight: Options.ConcurrentNew requests with one new token, sent
//     at once on open connections to a token whose introspection takes
//     300 ms, must cause exactly one introspection.
//   - Memory per cached token: a gateway built in this process (same
//     configuration, same stand-in over TLS) is filled with
//     Options.MemTokens distinct certificate-bound tokens through its
//     forward-auth pipeline; the live-heap growth after two GCs divided by
//     their number. The cached JWT (about 630 characters) is part of it.
//     To save time the stand-in answers these tokens with one JWT signed at
//     start; the gateway still verifies every answer and keeps its own copy.
//   - Idle RSS: cmd/fapid is built and `fapid run -c
//     certs.example/fapid.yaml` started; VmRSS from /proc after /readyz
//     answers and Options.IdleSettle passes.
//   - Agent CPU per login: logins driven against the agent process; its
//     CPU time divided by the logins. The stand-in's signing and the
//     harness's own work run in other processes and are excluded (the
//     stand-in's CPU per login is shown for reference).
//
// Before measuring, the harness checks that every target answers with the
// upstream's body, that the gateway refuses what it must (no Origin, an
// untrusted Origin, an unbound token on a FAPI route, a bound token
// without its certificate, an unknown token) and that the upstream gets
// the JWT, the gateway's client certificate and no session cookie.
//
// The package test runs all of it in Tiny mode and asserts structure and
// the invariants that do not depend on timing; it never asserts a rate.
package bench
