// Package config reads fapid's one YAML configuration file.
//
// Decoding is strict: an unknown key, a value of the wrong type or a missing
// required value is an error that names the file, the line and the key, and
// every problem in the file is reported at once. [Defaults] fills in
// defaults; [Validate] checks a File without touching anything outside it.
//
// Secrets never appear inline. A key is named by reference: "file:PATH" for a
// PEM or JWK file, or "pkcs11:…" (RFC 7512) for a key held in an HSM. Relative
// paths are resolved against the directory of the configuration file.
package config
