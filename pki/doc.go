// Package pki is fapid's embedded certificate authority, built on
// smallstep's go.step.sm/crypto (x509util, keyutil, pemutil, jose). It links
// no github.com/smallstep/certificates package: their package initialisation
// alone would cost the fapid daemon most of its idle-memory budget (DESIGN
// §7). The online CA server lives in package pki/online (the fapid-ca
// command).
//
// # Layout
//
// A CA directory holds a root and an intermediate (EC P-256) as
// root_ca.crt, root_ca.key, intermediate_ca.crt and intermediate_ca.key. Keys
// are unencrypted PKCS#8 PEM with mode 0600: protect the directory, and keep
// root_ca.key offline after [Init] if you can — [Open] never reads it.
//
// # Issuing
//
// [CA.Issue] signs a leaf in-process with the intermediate key, from
// x509util's default leaf template. A leaf carries a common name, subject alternative
// names split into DNS names, IP addresses, URIs and e-mail addresses, and
// exactly the extended key usages asked for: id-kp-serverAuth and/or
// id-kp-clientAuth (RFC 5280 §4.2.1.12). A serverAuth-only certificate is
// therefore refused by a verifier that asks for clientAuth. Client
// certificates are what OAuth 2.0 mutual-TLS client authentication and
// certificate-bound access tokens use (RFC 8705). Validity never extends past
// the intermediate's NotAfter (RFC 5280 §6.1.3 would reject such a path later
// anyway).
//
// # Online CA
//
// [Client] obtains certificates from the online CA (pki/online, run by
// fapid-ca) over HTTPS, trusting only the CA's root. It proves possession of
// the JWK provisioner's key (RFC 7517, EC P-256, in a 0600 JSON file without
// password) with a one-time token (a short-lived ES256 JWT, RFC 7519, with a
// unique jti, bound to the CSR by its SHA-256 fingerprint,
// "cnf":{"x5rt#S256":…}) and posts the CSR to /1.0/sign, speaking smallstep's
// JSON protocol with encoding/json. The token carries the requested
// extended key usages ([ClaimServer], [ClaimClient]), which the provisioner's
// certificate template grants exactly, so the online CA honours Server/Client
// as the in-process CA does. A certificate is renewed by asking for a new one.
//
// # Renewing
//
// [Renewer] obtains a certificate from any [Issuer] when started, stores it
// in a tlsx.Holder (which a tls.Config's GetCertificate or
// GetClientCertificate reads on every handshake), and obtains a new one at
// about two thirds of the certificate's life, retrying with backoff on
// failure. Connections already open keep the certificate they were set up
// with; new handshakes get the new one.
//
// The package never logs. Errors never contain key material or tokens.
package pki
