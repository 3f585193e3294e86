// Package keys turns key references from the configuration into signing keys
// ([crypto.Signer]). Secrets are never inline in the configuration: a key is
// named by a reference with a scheme.
//
//   - "file:PATH" — a private key file. PATH is taken literally (relative paths
//     are relative to the working directory); "file:///abs" and
//     "file://localhost/abs" (RFC 8089) are also understood. The file holds one of:
//     PEM "PRIVATE KEY" (PKCS#8, RFC 5208/5958; Ed25519 per RFC 8410),
//     PEM "EC PRIVATE KEY" (SEC 1, RFC 5915; an "EC PARAMETERS" block may precede it),
//     PEM "RSA PRIVATE KEY" (PKCS#1, RFC 8017), or a private JWK (RFC 7517,
//     RFC 7518 §6, RFC 8037) — a single JWK object, or a JWK Set holding exactly
//     one key. "CERTIFICATE" blocks in the same PEM file are skipped. Encrypted
//     PEM keys are refused.
//   - "pkcs11:…" — a key in an HSM, named by an RFC 7512 PKCS#11 URI. This build
//     returns [ErrPKCS11Unsupported]; the [Loader] interface is where a cgo
//     loader (build tags "cgo && pkcs11", over go.step.sm/crypto/kms) plugs in.
//
// A bare path without a scheme is refused (the error says to write "file:").
// Only keys fapid can sign with are accepted: RSA of 2048 to 8192 bits (PS256),
// EC P-256 (ES256) and Ed25519 (EdDSA).
//
// [GenerateFile] writes a new key as PKCS#8 PEM with mode 0600 and never
// overwrites an existing file.
//
// Errors name the file, never the key material; a reference that looks like
// pasted key material, and every pkcs11: URI (it may carry a PIN), is not
// echoed. This package never logs.
package keys
