// Package pkitest holds test-only helpers on top of pki and internal/tlsx:
// issuing TLS certificates from a throwaway CA (RFC 5280) and building
// HTTPS clients that trust it and optionally present a client certificate
// (RFC 8705 mutual TLS). It is imported only by tests.
package pkitest
