// Package cookies splits a long cookie value over several cookies and joins
// them back, so the agent (which writes) and the gateway (which reads) share
// one implementation.
//
// # Format
//
// A value that fits in one cookie is sent under its own name. A longer one
// is cut into pieces of at most the chunk size: the first piece keeps the
// name, the next ones are called name-1, name-2, … (at most [MaxChunks]
// pieces in all). [Join] concatenates name, name-1, … in order.
//
// The pieces are bound together by what they carry, not by this package:
// callers seal the whole value once (internal/seal, AES-256-GCM with the
// cookie name as additional data) and split the sealed text. A flipped
// byte in any piece, a dropped piece, a piece from another value or a
// reordered piece changes the joined text, so opening it fails. Join also
// refuses shapes no writer produces (a gap, a piece given twice, characters
// outside the base64url alphabet, too many pieces) before any decryption,
// so absurd inputs are rejected cheaply.
//
// # Attributes
//
// [Split] and [Expire] emit the attributes RFC 6265bis §4.1.3.2 requires
// for the __Host- prefix and the ones the agent's design asks for:
// Secure, HttpOnly, SameSite=Strict, Path=/ and no Domain. RFC 6265bis
// §5.6 caps name plus value at 4096 bytes; [DefaultChunkSize] leaves room
// for the name and the attributes so each Set-Cookie line stays within
// 4096 bytes (CASES H05).
//
// # Writing a shorter value
//
// When a session's value shrinks from three pieces to two, the browser
// still holds name-2; Join would then append it and opening would fail.
// Writers therefore send [Expire](r, name, len(newPieces)) along with the
// new pieces.
package cookies
