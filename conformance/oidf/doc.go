// Package oidf prepares a run of the OpenID Foundation's conformance suite
// against a fapid deployment: Generate turns a fapid configuration's agent
// section into the suite's test-plan configuration (the body of POST
// /api/plan) and variant for the FAPI 2.0 client plans
// (fapi2-security-profile-final-client-test-plan,
// fapi2-message-signing-final-client-test-plan), with client.jwks from the
// agent's signing key (RFC 7517) and client.certificate from its mTLS
// client certificate (RFC 8705). README.md is the guide.
package oidf
