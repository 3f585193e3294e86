// Package interoptest is the shared set-up of the tests that run against the
// reference FAPI 2.0 server of package interop: a throwaway PKI with the
// server's certificate, registered clients with their signing keys
// (RFC 7517 JWKS, RFC 7523 private_key_jwt), client certificates
// (RFC 8705) and DPoP keys (RFC 9449), one server per test binary started
// in TestMain, and the rule that skips a test only when Node.js is missing
// and CI is not set. It is imported only by tests.
package interoptest
