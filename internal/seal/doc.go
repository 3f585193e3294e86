// Package seal protects cookie values with authenticated encryption, so that
// the browser holds tokens it can neither read nor change.
//
// # Format (version 1)
//
//	value     = base64url-no-pad( version ‖ key-id ‖ nonce ‖ ciphertext ‖ tag )
//	version   = 0x01 (1 byte)
//	key-id    = first 4 bytes of SHA-256("fapid key id" ‖ master key)
//	nonce     = 12 bytes from crypto/rand
//	tag       = 16 bytes
//	AEAD      = AES-256-GCM (NIST SP 800-38D)
//	AEAD key  = HKDF-SHA256(ikm = master key, salt = none, info = "fapid seal v1", 32 bytes) (RFC 5869)
//	AAD       = version ‖ cookie name
//	plaintext = expiry (8 bytes, big-endian Unix seconds) ‖ data
//
// The cookie name in the additional data binds a value to its cookie: a sealed
// refresh-token cookie cannot be replayed as the access-token cookie. The expiry
// is inside the ciphertext, so it cannot be extended by the client, and it is
// checked only after the tag has verified, against the Sealer's clock.
//
// # Keys and rotation
//
// A master key is 32 random bytes written as exactly 64 hexadecimal characters
// (an optional trailing newline is allowed, nothing else): see [ParseKey] and
// [GenerateKeyText]. Base64, passphrases and other lengths are refused rather
// than guessed at. A [Sealer] is given a list of keys: the first seals, all
// open, and the key id in each value says which one to use, so rotation is "put
// the new key first, keep the old one until every value sealed with it has
// expired".
//
// Nonces are random, so one master key must not seal more than 2³² values
// (NIST SP 800-38D §8.3); at cookie rates, rotate long before that.
//
// # Failure
//
// [Sealer.Open] fails with the one opaque error [ErrInvalid] whatever went
// wrong (size, encoding, version, key id, tag, cookie name, expiry), and checks
// the size cap before decoding anything. This package never logs and never puts
// key material or values in errors.
package seal
