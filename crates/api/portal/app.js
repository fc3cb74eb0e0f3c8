// Warden portal: plain JavaScript, no framework, no build step, no external asset.
// The session lives in an HttpOnly cookie; this script only keeps the CSRF token the API gives
// (at login, and again from GET /api/v1/me after a reload) and sends it on every change.
'use strict';

const API = '/api/v1';
const STATUSES = ['inventory', 'active', 'suspended', 'terminated'];
const state = { csrf: null, ticket: null, me: null };

const $ = (id) => document.getElementById(id);

function show(section) {
  for (const id of ['login', 'enrolment', 'recovery', 'dashboard', 'passkeys']) $(id).hidden = id !== section;
  $('account').hidden = section !== 'dashboard' && section !== 'passkeys';
}

function say(text) { $('status').textContent = text; }

function fail(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = !text;
}

// `bearer`: an enrolment ticket, the only credential the enrolment calls take before a session exists.
async function call(method, path, body, bearer) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (bearer) headers['Authorization'] = 'Bearer ' + bearer;
  if (method !== 'GET' && method !== 'HEAD' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  const r = await fetch(API + path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const text = await r.text();
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  return { status: r.status, data };
}

function problem(r, fallback) {
  return (r.data && (r.data.detail || r.data.title)) || fallback;
}

// ---- login ----

function resetLogin() {
  state.ticket = null;
  $('password-form').hidden = false;
  $('code-form').hidden = true;
  $('passkey-login').hidden = true;
  $('password').value = '';
  $('code').value = '';
  $('enrolment-qr').removeAttribute('src');
  $('enrolment-key').textContent = '';
  $('enrolment-code').value = '';
  $('recovery-codes').textContent = '';
}

async function submitPassword(ev) {
  ev.preventDefault();
  fail('');
  const tenant = $('tenant').value.trim();
  const body = { username: $('username').value.trim(), password: $('password').value, cookie: true };
  if (tenant) body.tenant = tenant;
  say('Checking your password…');
  const r = await call('POST', '/auth/login', body);
  $('password').value = '';
  say('');
  if (r.status === 200) return loggedIn(r.data.csrf_token);
  if (r.status === 202 && r.data) {
    state.ticket = r.data.ticket;
    $('password-form').hidden = true;
    if (r.data.enrolment_required) return startEnrolment();
    const methods = r.data.methods || [];
    $('code-form').hidden = !methods.includes('totp');
    $('passkey-login').hidden = !methods.includes('webauthn'); // passkey.js
    (methods.includes('totp') ? $('code') : $('passkey-login')).focus();
    return;
  }
  fail(problem(r, 'Login failed.'));
}

async function submitCode(ev) {
  ev.preventDefault();
  fail('');
  say('Checking the code…');
  const r = await call('POST', '/auth/login/mfa', { ticket: state.ticket, code: $('code').value.trim(), cookie: true });
  $('code').value = '';
  say('');
  if (r.status === 200) return loggedIn(r.data.csrf_token);
  fail(problem(r, 'The code was not accepted.'));
  if (r.status === 401) resetLogin();
}

// ---- enrolment of a second factor (a person who must use one and has none) ----

async function startEnrolment() {
  say('Preparing your authenticator key…');
  const r = await call('POST', '/me/mfa/totp', undefined, state.ticket);
  say('');
  if (r.status !== 201) {
    resetLogin();
    return fail(problem(r, 'The enrolment could not start; log in again.'));
  }
  // The server renders the QR code; shown as an image, so no markup from the answer enters the page.
  $('enrolment-qr').src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(r.data.qr_svg);
  $('enrolment-key').textContent = r.data.secret.match(/.{1,4}/g).join(' ');
  show('enrolment');
  $('enrolment-title').focus();
}

async function submitEnrolmentCode(ev) {
  ev.preventDefault();
  fail('');
  say('Checking the code…');
  const body = { code: $('enrolment-code').value.trim(), cookie: true };
  const r = await call('POST', '/me/mfa/totp/confirm', body, state.ticket);
  $('enrolment-code').value = '';
  say('');
  if (r.status === 200 && r.data.session) return showRecoveryCodes(r.data);
  if (r.status === 401 && /ticket/.test(problem(r, ''))) {
    resetLogin();
    show('login');
    return fail('The enrolment took too long. Log in again to restart it.');
  }
  fail(r.status === 401 ? 'The code was not accepted. Check that the device\'s clock is right and type the code the app shows now.'
    : problem(r, 'The code was not accepted.'));
  $('enrolment-code').focus();
}

function showRecoveryCodes(data) {
  state.ticket = null;
  state.csrf = data.session.csrf_token;
  const list = $('recovery-codes');
  list.textContent = '';
  for (const c of data.recovery_codes) {
    const li = document.createElement('li');
    li.textContent = c;
    list.append(li);
  }
  show('recovery');
  $('recovery-title').focus();
}

function loggedIn(csrf) {
  state.csrf = csrf;
  resetLogin();
  if (location.hash === '#/dashboard') route(); else location.hash = '#/dashboard';
}

// ---- dashboard ----

async function countSims(status) {
  const r = await call('GET', '/sims?limit=1000&status=' + encodeURIComponent(status));
  if (r.status !== 200) return '–';
  const n = r.data.items.length;
  return r.data.next_cursor ? n + '+' : String(n);
}

async function dashboard() {
  const me = await call('GET', '/me');
  if (me.status !== 200) return goLogin();
  state.me = me.data;
  if (me.data.csrf_token) state.csrf = me.data.csrf_token;
  const name = me.data.name.replace(/^session:/, '');
  $('who').textContent = name + ' (' + me.data.role + ')';
  $('me-name').textContent = name;
  $('me-role').textContent = me.data.role;
  $('me-tenant').textContent = me.data.tenant || 'operator';
  show('dashboard');
  const body = $('sim-counts');
  body.textContent = '';
  for (const s of STATUSES) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = s;
    const td = document.createElement('td');
    td.textContent = await countSims(s);
    tr.append(th, td);
    body.append(tr);
  }
  $('dashboard-title').focus();
}

async function logout() {
  fail('');
  const r = await call('POST', '/auth/logout');
  if (r.status !== 204 && r.status !== 401) return fail(problem(r, 'Logout failed.'));
  state.csrf = null;
  state.me = null;
  say('You are logged out.');
  goLogin();
}

// ---- routing ----

function goLogin() {
  if (location.hash === '#/login') route(); else location.hash = '#/login';
}

async function route() {
  fail('');
  if (location.hash === '#/dashboard') return dashboard();
  if (location.hash === '#/passkeys') return passkeysPage(); // passkey.js
  const me = state.csrf ? null : await call('GET', '/me');
  if (me && me.status === 200 && location.hash !== '#/login') {
    location.hash = '#/dashboard';
    return;
  }
  show('login');
  $('username').focus();
}

document.addEventListener('DOMContentLoaded', () => {
  for (const id of ['dashboard-title', 'enrolment-title', 'recovery-title']) $(id).tabIndex = -1;
  $('password-form').addEventListener('submit', submitPassword);
  $('code-form').addEventListener('submit', submitCode);
  $('enrolment-form').addEventListener('submit', submitEnrolmentCode);
  $('recovery-done').addEventListener('click', () => loggedIn(state.csrf));
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  route();
});
