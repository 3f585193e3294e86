// Generates curityv1_vectors.json with Node's own crypto, independently of
// fapid's Go code: the cookie format of Curity's Gen-1 OAuth Agent
// (oauth-agent-node-express src/lib/cookieEncrypter.ts):
//   base64url-no-pad( 0x01 ‖ IV(12) ‖ AES-256-GCM ciphertext ‖ tag(16) ), no AAD,
//   key = 64 hex characters.
// Run: node curityv1_gen.mjs > curityv1_vectors.json
import crypto from 'node:crypto';

const b64url = (b) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/g, '');

function encrypt(keyHex, ivHex, plaintext) {
  const iv = Buffer.from(ivHex, 'hex');
  const c = crypto.createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), iv);
  const ct = Buffer.concat([c.update(Buffer.from(plaintext, 'utf8')), c.final()]);
  return b64url(Buffer.concat([Buffer.from([1]), iv, ct, c.getAuthTag()]));
}

const key1 = '4fa1c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccddeeff';
const key2 = 'A0B1C2D3E4F5A6B7C8D9EAFBFCEDDECFB0A1928374655647382910ABCDEF0123';
const cases = [
  { name: 'access token', key: key1, iv: '000102030405060708090a0b', plaintext: '_0XBPWQQ_4c3c2f0d-9a5e-4d0b-8a8e-3c2f0d9a5e4d' },
  { name: 'one byte', key: key1, iv: 'ffffffffffffffffffffffff', plaintext: 'x' },
  { name: 'login json', key: key2, iv: 'cafebabefacedbaddecaf888', plaintext: JSON.stringify({ codeVerifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', state: 'af0ifjsldkj' }) },
  { name: 'utf-8 and 100 bytes', key: key2, iv: '112233445566778899aabbcc', plaintext: 'ünïcödé ' + 'a'.repeat(90) },
];
const out = cases.map((c) => ({ ...c, sealed: encrypt(c.key, c.iv, c.plaintext) }));
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
