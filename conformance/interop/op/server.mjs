// Reference FAPI 2.0 authorization server for fapid tests and the sandbox demo.
//
//   node server.mjs /path/to/config.json
//
// The JSON configuration is written by the Go launcher (package interop, config.go). The provider
// is oidc-provider 9.13.3 with the FAPI 2.0 profile: PAR required, signed request objects required,
// PKCE S256, JARM, RFC 9207 iss, private_key_jwt and tls_client_auth, mTLS-bound (RFC 8705) and
// DPoP-bound (RFC 9449) tokens, opaque access tokens for one API resource (RFC 8707), introspection
// as JSON (RFC 7662) and as a signed JWT (RFC 9701), refresh-token rotation, userinfo, revocation and
// RP-initiated logout. The recipe and its pitfalls: /work/shared/research/toolchain.md section A.
//
// Protocol with the launcher: one line "READY <issuer>" on stdout once listening. Errors go to
// stderr (never tokens). The process exits on SIGTERM, SIGINT, or when its stdin closes (so a
// launcher that dies cannot leave this server behind).

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import process from 'node:process';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

const fail = (msg) => {
  process.stderr.write(`interop-op: ${msg}\n`);
  process.exit(1);
};

process.on('unhandledRejection', (err) => fail(`unhandled rejection: ${err?.stack || err}`));

if (process.argv.length !== 3) fail('usage: node server.mjs CONFIG.json');
const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
for (const k of ['host', 'certFile', 'keyFile', 'caFile', 'jwksFile', 'resource', 'resourceScope']) {
  if (!cfg[k]) fail(`config: ${k} is required`);
}

// FAPI 2.0 §5.2.2: TLS 1.2 only with the four ECDHE AES-GCM suites (RFC 9325), or TLS 1.3.
const CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
].join(':');

const ALGS = ['PS256', 'ES256'];
const DPOP_ALGS = ['ES256', 'PS256', 'EdDSA'];

// The OP's signing keys: one PS256 (RSA 2048) and one ES256 (P-256), generated on first start and
// kept (0600) in the state directory so that a restarted demo keeps its JWKS.
async function loadOrCreateKeys(path) {
  if (fs.existsSync(path)) {
    const jwks = JSON.parse(fs.readFileSync(path, 'utf8'));
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) fail(`${path}: no keys`);
    return jwks;
  }
  const keys = [];
  for (const alg of ALGS) {
    const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    const jwk = await jose.exportJWK(privateKey);
    jwk.kid = await jose.calculateJwkThumbprint(jwk);
    jwk.alg = alg;
    jwk.use = 'sig';
    keys.push(jwk);
  }
  const jwks = { keys };
  fs.writeFileSync(path, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return jwks;
}

// Node prints a subject as "O=FAPI Demo\nCN=agent-tls" (most significant RDN first); RFC 4514 and
// Go's pkix.Name.String() write "CN=agent-tls,O=FAPI Demo". Compare case-insensitively, trimmed.
const dnFromNode = (subject) => subject.split('\n').reverse().join(',');
const normDN = (s) => s.split(',').map((p) => p.trim()).join(',').toLowerCase();

function clientMetadata(c) {
  if (!c.client_id) fail('config: client without client_id');
  const alg = c.signingAlg || 'ES256';
  if (!ALGS.includes(alg)) fail(`config: client ${c.client_id}: signing alg ${alg} not supported`);
  const m = {
    client_id: c.client_id,
    token_endpoint_auth_method: c.authMethod,
    introspection_signed_response_alg: alg,
  };
  switch (c.authMethod) {
    case 'private_key_jwt':
      m.token_endpoint_auth_signing_alg = alg;
      if (!c.jwks) fail(`config: client ${c.client_id}: private_key_jwt needs jwks`);
      break;
    case 'tls_client_auth':
      if (!c.subjectDN) fail(`config: client ${c.client_id}: tls_client_auth needs subjectDN`);
      m.tls_client_auth_subject_dn = c.subjectDN;
      break;
    default:
      fail(`config: client ${c.client_id}: auth method ${c.authMethod} not supported`);
  }
  if (c.jwks) m.jwks = c.jwks;
  if (c.introspector) {
    // A resource server: it only introspects (any token, see allowedPolicy below).
    return { ...m, grant_types: [], response_types: [], redirect_uris: [] };
  }
  if (!c.jwks) fail(`config: client ${c.client_id}: jwks needed for signed request objects`);
  Object.assign(m, {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: c.redirectUris || [],
    post_logout_redirect_uris: c.postLogoutRedirectUris || [],
    request_object_signing_alg: alg,
    authorization_signed_response_alg: alg,
    id_token_signed_response_alg: alg,
  });
  switch (c.senderConstraint) {
    case 'mtls': m.tls_client_certificate_bound_access_tokens = true; break;
    case 'dpop': m.dpop_bound_access_tokens = true; break;
    default: fail(`config: client ${c.client_id}: sender constraint ${c.senderConstraint} not supported`);
  }
  return m;
}

const clients = (cfg.clients || []).map(clientMetadata);
const introspectors = new Set((cfg.clients || []).filter((c) => c.introspector).map((c) => c.client_id));
const opKeys = await loadOrCreateKeys(cfg.jwksFile);

let server;
try {
  server = https.createServer({
    cert: fs.readFileSync(cfg.certFile),
    key: fs.readFileSync(cfg.keyFile),
    ca: fs.readFileSync(cfg.caFile),
    requestCert: true, // ask every peer for a certificate (TLS 1.3 included) ...
    rejectUnauthorized: false, // ... but let browsers without one through; socket.authorized tells
    minVersion: 'TLSv1.2',
    ciphers: CIPHERS,
    honorCipherOrder: true,
  });
} catch (err) {
  fail(`TLS setup (certFile ${cfg.certFile}, keyFile ${cfg.keyFile}, caFile ${cfg.caFile}): ${err.message}`);
}

try {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port || 0, cfg.host, resolve);
  });
} catch (err) {
  fail(`listen on ${cfg.host}:${cfg.port || 0}: ${err.message}`);
}
const { port } = server.address();
const hostPart = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
const issuer = cfg.issuer || `https://${hostPart}:${port}`;

const resourceServer = {
  scope: cfg.resourceScope,
  audience: cfg.resource,
  accessTokenFormat: 'opaque',
  accessTokenTTL: 300,
};

const provider = new Provider(issuer, {
  clients,
  jwks: opKeys,
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  // client_schema defaults are RS256: without these every client fails invalid_client_metadata.
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    id_token_signed_response_alg: 'PS256',
    authorization_signed_response_alg: 'PS256',
    introspection_signed_response_alg: 'PS256',
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', cfg.resourceScope],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test`, email_verified: true, name: id }),
  }),
  clientAuthMethods: ['private_key_jwt', 'tls_client_auth'],
  responseTypes: ['code'],
  // As Curity does: a client allowed the refresh_token grant gets refresh
  // tokens, with or without offline_access (which oidc-provider otherwise
  // drops unless prompt=consent).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true, // the default rotates sender-constrained RTs only after 70 % of life
  pkce: { required: () => true }, // S256 only in v9
  enabledJWA: {
    clientAuthSigningAlgValues: ALGS,
    requestObjectSigningAlgValues: ALGS,
    authorizationSigningAlgValues: ALGS,
    idTokenSigningAlgValues: ALGS,
    userinfoSigningAlgValues: ALGS,
    introspectionSigningAlgValues: ALGS,
    dPoPSigningAlgValues: DPOP_ALGS,
  },
  ttl: {
    AccessToken: 300, AuthorizationCode: 60, IdToken: 300, RefreshToken: 86400,
    Interaction: 600, Session: 3600, Grant: 86400,
  },
  features: {
    devInteractions: { enabled: true }, // the login and consent forms the Go user agent fills in
    fapi: { enabled: true, profile: '2.0' },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    requestObjects: { enabled: true, requireSignedRequestObject: true },
    jwtResponseModes: { enabled: true },
    dPoP: cfg.dpopNonce
      ? { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true }
      : { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => introspectors.has(client.clientId)
        || token.clientId === client.clientId,
    },
    jwtIntrospection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Without a resource parameter: either no resource (the access token is for userinfo only)
      // or, with defaultResource, the API (an opaque API token, as Curity issues by default).
      defaultResource: async (_ctx, _client, oneOf) => oneOf || (cfg.defaultResource ? cfg.resource : undefined),
      useGrantedResource: async () => !!cfg.defaultResource,
      getResourceServerInfo: async (_ctx, resource) => {
        if (resource !== cfg.resource) throw new errors.InvalidTarget();
        return resourceServer;
      },
    },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      getCertificate(ctx) {
        const x = ctx.socket.getPeerX509Certificate?.();
        return x ? x.toString() : undefined; // PEM of the leaf
      },
      certificateAuthorized(ctx) {
        return ctx.socket.authorized === true; // chains to caFile
      },
      certificateSubjectMatches(ctx, property, expected) {
        const x = ctx.socket.getPeerX509Certificate?.();
        if (!x) return false;
        if (property === 'tls_client_auth_subject_dn') return normDN(dnFromNode(x.subject)) === normDN(expected);
        throw new Error(`${property} not implemented`);
      },
    },
  },
});

// error_description is masked in responses; error_detail (no token values) explains why.
for (const ev of [
  'authorization', 'backchannel', 'discovery', 'end_session', 'end_session_confirm', 'end_session_success',
  'grant', 'introspection', 'jwks', 'pushed_authorization_request', 'revocation', 'userinfo',
]) {
  provider.on(`${ev}.error`, (ctx, err) => {
    const client = ctx?.oidc?.client?.clientId || '-';
    process.stderr.write(`interop-op: ${ev}.error client=${client} ${err.error || err.name}: ${err.message}`
      + `${err.error_detail ? ` (${err.error_detail})` : ''}\n`);
  });
}
provider.on('server_error', (_ctx, err) => process.stderr.write(`interop-op: server_error: ${err?.stack || err}\n`));

server.on('request', provider.callback());

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();

process.stdout.write(`READY ${issuer}\n`);
