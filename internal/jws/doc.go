// Package jws is fapid's one JOSE allowlist: it verifies and produces JSON Web
// Signatures in compact serialisation (RFC 7515) with exactly three algorithms,
// PS256 and ES256 (RFC 7518 §3.5, §3.4) and EdDSA over Ed25519 (RFC 8037).
// Every other "alg" — "none", the HMAC family (HS*), RSASSA-PKCS1-v1_5 (RS*),
// other curves and hash sizes — is refused with [ErrAlgorithm] before any key is
// looked at, and JWE (RFC 7516, five segments) is refused with [ErrEncrypted].
//
// # Verification
//
// [Verify] parses the protected header itself (strict base64url, size caps,
// duplicate-free JSON object) before handing the token to go-jose, whose own
// algorithm list is the second line of defence. The header cannot choose the key:
// "jwk", "jku", "x5u" and "x5c" are refused, "crit" must be absent or empty and
// "b64" (RFC 7797) is refused. The verification key comes from a [KeySet] (a JWK
// Set, RFC 7517 §5) and is selected by kid, alg and key type together (see
// [KeySet.Select]), so a JWKS holding decoy keys under the same kid cannot steer
// the choice; two keys that both fit are an error ([ErrAmbiguousKey]).
//
// [VerifyEmbedded] is for DPoP proofs (RFC 9449 §4.2), whose header carries the
// public key as "jwk": the key must be public, must fit the alg, and its RFC 7638
// thumbprint is returned so the caller can compare it with "cnf"."jkt".
//
// # Keys
//
// Key types fit exactly one algorithm each: RSA of at least 2048 bits (and at
// most 8192, public exponent odd and at least 65537) for PS256, EC P-256 for ES256 (RFC 7518 §6.2), OKP Ed25519 for
// EdDSA (RFC 8037 §2). [Thumbprint] is the RFC 7638 JWK thumbprint with SHA-256.
//
// # Signing
//
// [Signer] signs with any [crypto.Signer] (a file key or an HSM), deriving the
// algorithm from the key. PS256 signatures use a salt as long as the hash, as
// RFC 7518 §3.5 requires.
//
// This package never logs and never puts key material or token contents in its
// errors.
package jws
