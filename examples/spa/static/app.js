// fapid example SPA: uses the OAuth agent API the way Curity's token-handler
// SPAs do. Tokens never reach this page: the agent keeps them in sealed
// HttpOnly cookies and the gateway turns the access-token cookie into a JWT
// for the API. The only secret-ish value held here is the CSRF token, kept
// in memory (never in web storage or a script-visible cookie) and
// read again from login/end after a reload.
'use strict';

(() => {
  const script = document.currentScript;
  const configURL = new URL('config.json', script ? script.src : location.href);

  let config = null; // {oauthAgentBaseUrl, apiBaseUrl, cookiePrefix}
  let csrf = null; // from login/end, in memory only
  let refreshing = null; // one refresh at a time
  let signedInAs = 'Signed in';
  let refreshes = 0;

  const $ = (id) => document.getElementById(id);

  // RequestError is a failed call: HTTP status (0 for a network error) and
  // the {code, message} body of the agent, gateway or API.
  class RequestError extends Error {
    constructor(status, code, message, url) {
      super(message);
      this.status = status;
      this.code = code;
      this.url = url;
    }
  }

  // send makes one credentialed call and returns the parsed JSON (or null
  // for an empty body). withCSRF adds the x-<prefix>-csrf header.
  async function send(url, method, withCSRF) {
    const headers = { accept: 'application/json' };
    if (withCSRF && csrf) {
      headers[`x-${config.cookiePrefix}-csrf`] = csrf;
    }
    const init = { method, headers, credentials: 'include', mode: 'cors', cache: 'no-store' };
    return call(url, init);
  }

  // sendJSON POSTs a JSON body to the agent.
  async function sendJSON(url, body) {
    const headers = { accept: 'application/json', 'content-type': 'application/json' };
    if (csrf) {
      headers[`x-${config.cookiePrefix}-csrf`] = csrf;
    }
    const init = { method: 'POST', headers, body: JSON.stringify(body), credentials: 'include', mode: 'cors', cache: 'no-store' };
    return call(url, init);
  }

  async function call(url, init) {
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new RequestError(0, 'network_error', `cannot reach ${new URL(url).origin} (${e.message})`, url);
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const code = (data && typeof data.code === 'string') ? data.code : `http_${res.status}`;
      const message = (data && typeof data.message === 'string') ? data.message : (res.statusText || 'request failed');
      throw new RequestError(res.status, code, message, url);
    }
    return data;
  }

  const agentURL = (path) => `${config.oauthAgentBaseUrl}/${path}`;
  // Every POST carries the CSRF header once we have it.
  const agentPost = (path) => send(agentURL(path), 'POST', true);
  const agentGet = (path) => send(agentURL(path), 'GET', false);

  // refresh asks the agent for new tokens; concurrent callers share one call.
  function refresh() {
    if (!refreshing) {
      refreshing = agentPost('refresh').finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  // withRefresh runs fn; on a 401 it refreshes once and retries. A 401 from
  // the refresh itself (session_expired, or no session) ends the session.
  async function withRefresh(fn) {
    try {
      return await fn();
    } catch (e) {
      if (e.status !== 401 || e.code === 'session_expired') {
        throw e;
      }
    }
    try {
      await refresh();
    } catch (e) {
      if (e.status === 401) {
        sessionEnded(e);
      }
      throw e;
    }
    return fn();
  }

  // isOAuthResponse mirrors Curity's token-handler-js-assistant: code+state,
  // error+state, or a lone JARM "response".
  function isOAuthResponse(url) {
    const q = url.searchParams;
    return (q.has('state') && (q.has('code') || q.has('error'))) || q.has('response');
  }

  // cleanURL drops the authorization response from the address bar (and the
  // /callback path, which is only the redirect target).
  function cleanURL() {
    const path = location.pathname.replace(/\/callback$/, '/');
    history.replaceState(null, document.title, path);
  }

  // UI state.

  function setStatus(state, text) {
    const s = $('status');
    s.dataset.state = state;
    s.textContent = text;
  }

  function showError(e) {
    const el = $('error');
    el.textContent = e instanceof RequestError ? `${e.code}: ${e.message}` : String(e && e.message ? e.message : e);
    el.hidden = false;
  }

  function clearError() {
    const el = $('error');
    el.textContent = '';
    el.hidden = true;
  }

  function showSignedOut(text) {
    csrf = null;
    signedInAs = 'Signed in';
    setStatus('signed-out', text || 'Signed out');
    $('login').hidden = false;
    for (const id of ['call-api', 'refresh', 'logout']) {
      $(id).hidden = true;
    }
    $('session').hidden = true;
    for (const id of ['claims', 'userinfo', 'api-result']) {
      $(id).textContent = '';
    }
    $('api-result').dataset.status = '';
  }

  function sessionEnded(e) {
    showSignedOut(e.code === 'session_expired' ? 'Session expired: please sign in again' : 'Signed out');
  }

  async function showSignedIn() {
    setStatus('signed-in', 'Signed in');
    $('login').hidden = true;
    for (const id of ['call-api', 'refresh', 'logout']) {
      $(id).hidden = false;
    }
    $('session').hidden = false;
    const [claims] = await Promise.all([loadClaims(), loadUserInfo()]);
    if (claims && typeof claims.sub === 'string' && $('status').dataset.state === 'signed-in') {
      signedInAs = `Signed in as ${claims.sub}`;
      setStatus('signed-in', signedInAs);
    }
  }

  async function loadClaims() {
    try {
      const claims = await withRefresh(() => agentGet('claims'));
      $('claims').textContent = JSON.stringify(claims, null, 2);
      return claims;
    } catch (e) {
      showError(e);
      return null;
    }
  }

  async function loadUserInfo() {
    try {
      const info = await withRefresh(() => agentGet('userInfo'));
      $('userinfo').textContent = JSON.stringify(info, null, 2);
    } catch (e) {
      showError(e);
    }
  }

  // Actions: each disables the buttons while it runs.

  function action(fn) {
    return async () => {
      const buttons = document.querySelectorAll('button');
      buttons.forEach((b) => { b.disabled = true; });
      clearError();
      try {
        await fn();
      } catch (e) {
        showError(e);
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    };
  }

  async function login() {
    const r = await agentPost('login/start');
    if (!r || typeof r.authorizationRequestUrl !== 'string') {
      throw new Error('login/start returned no authorizationRequestUrl');
    }
    location.assign(r.authorizationRequestUrl);
  }

  async function callAPI() {
    const out = $('api-result');
    out.dataset.status = 'pending';
    out.textContent = 'Calling…';
    try {
      const data = await withRefresh(() => send(`${config.apiBaseUrl}/hello`, 'GET', true));
      out.textContent = JSON.stringify(data, null, 2);
      out.dataset.status = 'ok';
    } catch (e) {
      out.textContent = '';
      out.dataset.status = 'error';
      throw e;
    }
  }

  async function refreshNow() {
    try {
      await refresh();
    } catch (e) {
      if (e.status === 401) {
        sessionEnded(e);
      }
      throw e;
    }
    refreshes += 1;
    $('status').dataset.refreshes = String(refreshes);
    setStatus('signed-in', `${signedInAs} (tokens refreshed at ${new Date().toLocaleTimeString()})`);
  }

  async function logout() {
    let r = null;
    try {
      r = await agentPost('logout');
    } catch (e) {
      if (e.status !== 401) {
        throw e;
      }
    }
    showSignedOut();
    if (r && typeof r.url === 'string' && r.url) {
      location.assign(r.url);
    }
  }

  // Page load: finish a login when this is the callback, else learn whether
  // there is a session (and get its CSRF token).
  async function start() {
    const res = await fetch(configURL, { credentials: 'include', cache: 'no-store' });
    if (!res.ok) {
      throw new Error(`config.json: HTTP ${res.status}`);
    }
    config = await res.json();
    const oauthResponse = isOAuthResponse(new URL(location.href));
    let r;
    try {
      r = await sendJSON(agentURL('login/end'), { pageUrl: location.href });
    } finally {
      if (oauthResponse) {
        cleanURL();
      }
    }
    if (r && r.isLoggedIn) {
      csrf = typeof r.csrf === 'string' ? r.csrf : null;
      await showSignedIn();
    } else {
      showSignedOut();
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('click', action(login));
    $('call-api').addEventListener('click', action(callAPI));
    $('refresh').addEventListener('click', action(refreshNow));
    $('logout').addEventListener('click', action(logout));
    start().catch((e) => {
      showSignedOut();
      showError(e);
    });
  });
})();
