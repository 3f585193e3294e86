// Package online is fapid's online certificate authority: smallstep's CA
// server (github.com/smallstep/certificates ca.New, v0.30.2) over HTTPS with
// one JWK provisioner (RFC 7517), serving a CA directory made by pki.Init. It
// runs as the fapid-ca command, beside the fapid daemon: the intermediate
// CA key stays out of the internet-facing process, and fapid itself links no
// smallstep certificates package (their package initialisation alone costs
// fapid most of its idle-memory budget, DESIGN §7). fapid obtains
// certificates from it with pki.Client.
//
// The provisioner key is a private JWK (EC P-256, "kid" = RFC 7638
// thumbprint) in a JSON file with mode 0600 and no password: the file mode is
// its only protection, like the CA keys beside it. [NewServer] creates it on
// first start when absent. pki.Client proves possession of the same key with
// a one-time token (a short-lived ES256 JWT, RFC 7519, with a unique jti,
// bound to the CSR by its SHA-256 fingerprint, "cnf":{"x5rt#S256":…}) and
// posts a CSR to /1.0/sign. The provisioner's certificate template sets the
// extended key usages (RFC 5280 §4.2.1.12) from the token's pki.ClaimServer
// and pki.ClaimClient claims, so the online CA honours Server/Client exactly
// as the in-process pki.CA does. Renewal through /renew is disabled: a
// certificate is renewed by asking for a new one. TLS follows FAPI 2.0 §5.2.2
// and RFC 9325 (TLS 1.2 with the four ECDHE AES-GCM suites, or TLS 1.3).
//
// The package never logs, but smallstep's ca package writes through the
// standard library's log package even when quiet: one line when the server
// is built, one when it starts serving, and net/http's TLS handshake errors.
package online
