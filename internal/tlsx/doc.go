// Package tlsx holds fapid's one TLS policy and the certificate sources that
// feed it. Every listener and every outbound connection gets its tls.Config
// from [ServerConfig] or [ClientConfig]; nothing else in fapid builds one.
//
// # Policy
//
// FAPI 2.0 Security Profile §5.2 (network layer) requires TLS 1.2 or later
// and the recommendations of BCP 195, now RFC 9325. Both configs therefore
// set:
//
//   - MinVersion TLS 1.2; TLS 1.3 preferred (Go negotiates the highest).
//   - For TLS 1.2, exactly the four [CipherSuites12]: ECDHE-ECDSA and
//     ECDHE-RSA with AES-128-GCM-SHA256 and AES-256-GCM-SHA384 (RFC 9325
//     §4.2; FAPI 2.0 SP §5.2.2 and §5.2.3). No CBC, no static-RSA key
//     exchange, no 3DES, no ChaCha20 in TLS 1.2. TLS 1.3 suites are Go's
//     three AEAD suites and are not configurable.
//   - Key exchange groups X25519MLKEM768 (post-quantum hybrid, TLS 1.3),
//     X25519, P-256, P-384.
//   - The server certificate is always verified against RootCAs and the
//     expected name (RFC 9525; FAPI 2.0 SP §5.2.1); there is no option to
//     skip verification.
//
// # Client certificates
//
// [ClientAuth] selects none, request or require. Request and require verify
// a presented certificate against [ServerOptions].ClientCAs and demand the
// clientAuth extended key usage, so a server certificate (serverAuth only)
// cannot be used as a client certificate. The verified certificate is what
// RFC 8705 binds access tokens to (cnf x5t#S256); the gateway reads it from
// the connection state.
//
// # Certificate sources
//
// A [Source] is asked for the certificate on every handshake, so renewed
// certificates take effect without restart and without disturbing open
// connections: [Holder] for certificates the embedded CA renews in process,
// [FileSource] for files on disk. [ClientConfig] asks its Source through
// GetClientCertificate, so a renewed client certificate is used on the next
// connection too.
//
// # Resumption and 0-RTT
//
// TLS 1.3 session tickets stay on: Go resumes only with psk_dhe_ke, so a
// resumed connection still runs a fresh (EC)DHE exchange, and it rotates its
// ticket keys daily (RFC 9325 §3.4). On resumption Go re-checks the client
// certificate chain in the ticket against ClientCAs and its expiry. TLS 1.2
// tickets are refused, because they expose the master secret to anyone who
// later obtains a ticket key. 0-RTT early data is never accepted: crypto/tls
// does not implement it over TCP, and for HTTP/3 quic-go accepts it only if
// quic.Config.Allow0RTT is set, which fapid must never do (early data can be
// replayed; RFC 8446 §8, RFC 9325 §3.4).
//
// # HSTS
//
// [HSTS] adds Strict-Transport-Security (RFC 6797) to every response of a
// browser-facing listener, as FAPI 2.0 SP §5.2.3 asks against TLS stripping.
//
// This package does not log; it returns errors, and no error carries key
// material.
package tlsx
