// Package agentflow holds the integration tests of the OAuth Agent (package
// agent) against the real reference authorization server (package interop,
// node-oidc-provider in FAPI 2.0 mode): the whole session lifecycle — login
// through PAR and a headless user agent, login/end, session, userInfo,
// claims, refresh with rotation, logout through the end-session endpoint —
// for JARM and plain responses and for mTLS- and DPoP-bound tokens.
//
// It has no code outside its tests. Under CI=true the tests never skip;
// otherwise they skip only when Node.js is missing.
package agentflow
