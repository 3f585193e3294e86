// Package pki is fapid's embedded certificate authority, built on smallstep's
// certificates (https://github.com/smallstep/certificates, v0.30.2) and
// go.step.sm/crypto (x509util, keyutil, pemutil, jose).
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
// [CA.Issue] signs a leaf in-process through smallstep's embedded authority
// (authority.NewEmbedded). A leaf carries a common name, subject alternative
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
// [NewServer] runs smallstep's CA server (ca.New) over HTTPS with one JWK
// provisioner. Its key is a private JWK (RFC 7517, EC P-256, "kid" = RFC 7638
// thumbprint) in a JSON file with mode 0600 and no password: the file mode is
// its only protection, like the CA keys beside it. The server creates it on
// first start when absent. [Client] proves possession of the same key with a
// one-time token (a short-lived ES256 JWT with a unique jti, bound to the CSR
// by its SHA-256 fingerprint, "cnf":{"x5rt#S256":…}) and posts a CSR to
// /1.0/sign. The provisioner's certificate template sets the extended key
// usages from the token, so the online CA honours Server/Client exactly as the
// in-process CA does. Renewal through /renew is disabled: a certificate is
// renewed by asking for a new one.
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
// The package never logs. Errors never contain key material or tokens. Note
// that smallstep's ca package, used by [Server], writes through the standard
// library's log package even when quiet: one line when the server is built,
// one when it starts serving, and net/http's TLS handshake errors.
package pki
