// Package gatewayflow holds the integration tests of the gateway (package
// gateway) against the real reference authorization server (package
// interop, node-oidc-provider in FAPI 2.0 mode) and a real upstream API
// (examples/api over mutual TLS), with the gateway and the OAuth Agent
// served together over TLS on loopback, as fapid serves them:
//
//   - browser sessions obtained through the agent's whole login, with
//     mTLS-bound tokens (the API checks cnf.x5t#S256 against the
//     gateway's client certificate, RFC 8705 §3) and DPoP-bound tokens (the
//     API checks the proof the gateway signs with the deployment key,
//     RFC 9449 §7.1);
//   - bearer requests from clients that got their tokens with package fapi:
//     certificate-bound (replayed from another certificate: 401) and bound
//     to the client's own DPoP key (refused unless the route's upstream
//     trusts the gateway's check);
//   - RFC 9701 introspection answers forwarded as received and RFC 7662
//     answers turned into RFC 9068 tokens the gateway mints (the API
//     verifies those against the gateway's JWKS);
//   - a revoked token refused once its cache entry expires.
//
// It has no code outside its tests. Under CI=true the tests never skip;
// otherwise they skip only when Node.js is missing.
package gatewayflow
