// Behaviour test of static/app.js in Node, with a fake DOM and a scripted
// fetch: usage `node app_harness.js path/to/app.js`. Run by behaviour_test.go.
'use strict';

const fs = require('node:fs');
const vm = require('node:vm');
const assert = require('node:assert/strict');

const src = fs.readFileSync(process.argv[2], 'utf8');
const AGENT = 'https://api.example.test:8443/oauth-agent';
const API = 'https://api.example.test:8443/api';
const CONFIG = { oauthAgentBaseUrl: AGENT, apiBaseUrl: API, cookiePrefix: 'fapid' };
const SPA = 'https://www.example.test';

// page loads app.js into a fresh context at href. routes maps
// "METHOD URL" to a list of answers {status, body} used in order.
function page(href, routes) {
  const ids = ['status', 'error', 'login', 'call-api', 'refresh', 'logout', 'session', 'claims', 'userinfo', 'api-result'];
  const buttons = new Set(['login', 'call-api', 'refresh', 'logout']);
  const el = {};
  for (const id of ids) {
    el[id] = {
      id, hidden: buttons.has(id) || id === 'session' || id === 'error', textContent: '', dataset: {},
      disabled: false, listeners: {}, button: buttons.has(id),
      addEventListener(type, fn) { this.listeners[type] = fn; },
    };
  }
  let url = new URL(href);
  const p = { el, calls: [], assigned: [], replaced: [], docListeners: {} };
  const forbidden = (name) => ({ get() { throw new Error(`${name} read`); }, set() { throw new Error(`${name} written`); } });
  const document = {
    currentScript: { src: `${SPA}/app.js` },
    title: 'test',
    getElementById: (id) => el[id],
    querySelectorAll: (sel) => { assert.equal(sel, 'button'); return Object.values(el).filter((e) => e.button); },
    addEventListener: (type, fn) => { p.docListeners[type] = fn; },
  };
  Object.defineProperty(document, 'cookie', forbidden('document.cookie'));
  const location = {
    get href() { return url.href; },
    get pathname() { return url.pathname; },
    assign(u) { p.assigned.push(u); },
  };
  const history = { replaceState(_s, _t, u) { p.replaced.push(u); url = new URL(u, url); } };
  async function fetch(target, init = {}) {
    const method = init.method || 'GET';
    const call = { url: String(target), method, headers: init.headers || {}, body: init.body, credentials: init.credentials };
    p.calls.push(call);
    const queue = routes[`${method} ${call.url}`];
    if (!queue || queue.length === 0) {
      throw new TypeError(`no route for ${method} ${call.url}`);
    }
    const a = queue.length > 1 ? queue.shift() : queue[0];
    const text = a.body === undefined ? '' : JSON.stringify(a.body);
    return { ok: a.status >= 200 && a.status < 300, status: a.status, statusText: '', text: async () => text, json: async () => JSON.parse(text) };
  }
  const ctx = { document, location, history, fetch, URL, console, Promise, JSON, Error, TypeError, String, Object };
  Object.defineProperty(ctx, 'localStorage', forbidden('localStorage'));
  Object.defineProperty(ctx, 'sessionStorage', forbidden('sessionStorage'));
  vm.createContext(ctx);
  vm.runInContext(src, ctx, { filename: 'app.js' });
  p.load = async () => { p.docListeners.DOMContentLoaded(); await settle(); };
  p.click = async (id) => { await el[id].listeners.click(); await settle(); };
  p.callsTo = (method, u) => p.calls.filter((c) => c.method === method && c.url === u);
  return p;
}

async function settle() {
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setImmediate(r));
  }
}

function loggedInRoutes(extra = {}) {
  return {
    [`GET ${SPA}/config.json`]: [{ status: 200, body: CONFIG }],
    [`POST ${AGENT}/login/end`]: [{ status: 200, body: { handled: true, isLoggedIn: true, csrf: 'C1' } }],
    [`GET ${AGENT}/claims`]: [{ status: 200, body: { sub: 'alice', iss: 'https://as' } }],
    [`GET ${AGENT}/userInfo`]: [{ status: 200, body: { sub: 'alice', name: 'Alice' } }],
    ...extra,
  };
}

function checkCommon(p) {
  for (const c of p.calls) {
    assert.equal(c.credentials, 'include', `credentials on ${c.method} ${c.url}`);
    if (c.method === 'POST' && c.url !== `${AGENT}/login/end` && c.url !== `${AGENT}/login/start`) {
      assert.equal(c.headers['x-fapid-csrf'], 'C1', `CSRF header on ${c.url}`);
    }
  }
}

const tests = {
  async callbackFinishesLogin() {
    const href = `${SPA}/callback?code=abc&state=xyz&iss=https%3A%2F%2Fas`;
    const p = page(href, loggedInRoutes());
    await p.load();
    const end = p.callsTo('POST', `${AGENT}/login/end`);
    assert.equal(end.length, 1);
    assert.deepEqual(JSON.parse(end[0].body), { pageUrl: href });
    assert.equal(end[0].headers['content-type'], 'application/json');
    assert.deepEqual(p.replaced, ['/']);
    assert.equal(p.el.status.dataset.state, 'signed-in');
    assert.equal(p.el.status.textContent, 'Signed in as alice');
    assert.match(p.el.claims.textContent, /"sub": "alice"/);
    assert.match(p.el.userinfo.textContent, /"name": "Alice"/);
    assert.equal(p.el.login.hidden, true);
    assert.equal(p.el['call-api'].hidden, false);
    assert.equal(p.el.error.hidden, true);
    checkCommon(p);
  },

  async plainLoadLoggedOutThenLogin() {
    const p = page(`${SPA}/`, {
      [`GET ${SPA}/config.json`]: [{ status: 200, body: CONFIG }],
      [`POST ${AGENT}/login/end`]: [{ status: 200, body: { handled: false, isLoggedIn: false } }],
      [`POST ${AGENT}/login/start`]: [{ status: 200, body: { authorizationRequestUrl: 'https://as/authorize?client_id=c&request_uri=urn:x' } }],
    });
    await p.load();
    assert.deepEqual(p.replaced, []);
    assert.equal(p.el.status.dataset.state, 'signed-out');
    assert.equal(p.el.login.hidden, false);
    assert.equal(p.el.session.hidden, true);
    await p.click('login');
    const start = p.callsTo('POST', `${AGENT}/login/start`);
    assert.equal(start.length, 1);
    assert.equal(start[0].headers['x-fapid-csrf'], undefined);
    assert.deepEqual(p.assigned, ['https://as/authorize?client_id=c&request_uri=urn:x']);
    checkCommon(p);
  },

  async apiRefreshAndRetry() {
    const p = page(`${SPA}/`, loggedInRoutes({
      [`GET ${API}/hello`]: [{ status: 401, body: { code: 'invalid_token', message: 'expired' } }, { status: 200, body: { sub: 'alice', path: '/api/hello' } }],
      [`POST ${AGENT}/refresh`]: [{ status: 204 }],
    }));
    await p.load();
    await p.click('call-api');
    const api = p.callsTo('GET', `${API}/hello`);
    assert.equal(api.length, 2);
    for (const c of api) {
      assert.equal(c.headers['x-fapid-csrf'], 'C1');
    }
    assert.equal(p.callsTo('POST', `${AGENT}/refresh`).length, 1);
    assert.match(p.el['api-result'].textContent, /"sub": "alice"/);
    assert.equal(p.el['api-result'].dataset.status, 'ok');
    assert.equal(p.el.error.hidden, true);
    checkCommon(p);
  },

  async sessionExpired() {
    const p = page(`${SPA}/`, loggedInRoutes({
      [`GET ${API}/hello`]: [{ status: 401, body: { code: 'invalid_token', message: 'expired' } }],
      [`POST ${AGENT}/refresh`]: [{ status: 401, body: { code: 'session_expired', message: 'gone' } }],
    }));
    await p.load();
    await p.click('call-api');
    assert.equal(p.callsTo('GET', `${API}/hello`).length, 1);
    assert.equal(p.el.status.dataset.state, 'signed-out');
    assert.equal(p.el.login.hidden, false);
    assert.equal(p.el['call-api'].hidden, true);
    assert.equal(p.el.error.hidden, false);
    assert.match(p.el.error.textContent, /session_expired/);
    checkCommon(p);
  },

  async userInfoTokenExpired() {
    const p = page(`${SPA}/`, loggedInRoutes({
      [`GET ${AGENT}/userInfo`]: [{ status: 401, body: { code: 'token_expired', message: 'x' } }, { status: 200, body: { sub: 'alice', name: 'Fresh' } }],
      [`POST ${AGENT}/refresh`]: [{ status: 204 }],
    }));
    await p.load();
    assert.match(p.el.userinfo.textContent, /Fresh/);
    assert.equal(p.callsTo('POST', `${AGENT}/refresh`).length, 1);
    checkCommon(p);
  },

  async manualRefreshAndLogout() {
    const p = page(`${SPA}/`, loggedInRoutes({
      [`POST ${AGENT}/refresh`]: [{ status: 204 }],
      [`POST ${AGENT}/logout`]: [{ status: 200, body: { url: 'https://as/session/end?client_id=c' } }],
    }));
    await p.load();
    await p.click('refresh');
    assert.equal(p.el.status.dataset.refreshes, '1');
    assert.equal(p.el.status.dataset.state, 'signed-in');
    await p.click('logout');
    assert.deepEqual(p.assigned, ['https://as/session/end?client_id=c']);
    assert.equal(p.el.status.dataset.state, 'signed-out');
    assert.equal(p.el.claims.textContent, '');
    checkCommon(p);
  },

  async callbackErrorIsShownAndURLCleaned() {
    const p = page(`${SPA}/callback?error=access_denied&state=xyz`, {
      [`GET ${SPA}/config.json`]: [{ status: 200, body: CONFIG }],
      [`POST ${AGENT}/login/end`]: [{ status: 400, body: { code: 'access_denied', message: 'User cancelled' } }],
    });
    await p.load();
    assert.deepEqual(p.replaced, ['/']);
    assert.equal(p.el.status.dataset.state, 'signed-out');
    assert.equal(p.el.error.textContent, 'access_denied: User cancelled');
  },

  async networkErrorIsShown() {
    const p = page(`${SPA}/`, { [`GET ${SPA}/config.json`]: [{ status: 200, body: CONFIG }] });
    await p.load();
    assert.equal(p.el.error.hidden, false);
    assert.match(p.el.error.textContent, /^network_error: cannot reach https:\/\/api\.example\.test:8443/);
  },
};

(async () => {
  for (const [name, fn] of Object.entries(tests)) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      console.log(`FAIL ${name}: ${e.stack || e}`);
      process.exitCode = 1;
    }
  }
})();
