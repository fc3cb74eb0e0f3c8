// Warden portal: passkeys (WebAuthn). Loaded after app.js and using its helpers ($, call, state, say,
// fail, problem, show, loggedIn, resetLogin). Two parts:
// - the login's second step with a passkey ("Use a passkey", offered when the ticket's methods name
//   `webauthn`): POST /auth/login/webauthn/start, navigator.credentials.get(), /finish;
// - the Passkeys page (#/passkeys): list, add (navigator.credentials.create()), delete.
// The server's options carry binary values as base64url text; the browser wants ArrayBuffers, and
// its answer goes back as base64url text again. No library: the conversions are here.
'use strict';

function b64urlToBuffer(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function bufferToB64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// Drops null members (a WebIDL dictionary refuses null where it wants an enum or a sequence).
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = withoutNulls(v);
    return out;
  }
  return value;
}

function withIds(list) {
  return (list || []).map((c) => ({ ...c, id: b64urlToBuffer(c.id) }));
}

function creationOptions(options) {
  const pk = withoutNulls(options.publicKey);
  pk.challenge = b64urlToBuffer(pk.challenge);
  pk.user = { ...pk.user, id: b64urlToBuffer(pk.user.id) };
  pk.excludeCredentials = withIds(pk.excludeCredentials);
  return { publicKey: pk };
}

function requestOptions(options) {
  const pk = withoutNulls(options.publicKey);
  pk.challenge = b64urlToBuffer(pk.challenge);
  pk.allowCredentials = withIds(pk.allowCredentials);
  return { publicKey: pk };
}

function registrationJSON(cred) {
  const r = cred.response;
  return {
    id: cred.id,
    rawId: bufferToB64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: bufferToB64url(r.attestationObject),
      clientDataJSON: bufferToB64url(r.clientDataJSON),
      transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined,
    },
    extensions: {},
  };
}

function assertionJSON(cred) {
  const r = cred.response;
  return {
    id: cred.id,
    rawId: bufferToB64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: bufferToB64url(r.authenticatorData),
      clientDataJSON: bufferToB64url(r.clientDataJSON),
      signature: bufferToB64url(r.signature),
      userHandle: r.userHandle ? bufferToB64url(r.userHandle) : undefined,
    },
    extensions: {},
  };
}

function passkeysSupported() {
  return typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
}

// ---- login: the second step with a passkey ----

async function loginWithPasskey() {
  fail('');
  if (!passkeysSupported()) return fail('This browser does not support passkeys. Enter a one-time code instead.');
  say('Waiting for your passkey…');
  const started = await call('POST', '/auth/login/webauthn/start', { ticket: state.ticket });
  if (started.status !== 200) {
    say('');
    fail(problem(started, 'The passkey login could not start.'));
    if (started.status === 401) { resetLogin(); }
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.get(requestOptions(started.data.options));
  } catch (e) {
    say('');
    return fail('No passkey was used (' + e.name + '). Try again, or enter a one-time code.');
  }
  const body = { ticket: state.ticket, ceremony: started.data.ceremony, credential: assertionJSON(credential), cookie: true };
  const r = await call('POST', '/auth/login/webauthn/finish', body);
  say('');
  if (r.status === 200) return loggedIn(r.data.csrf_token);
  fail(problem(r, 'The passkey was not accepted.'));
  if (r.status === 401) resetLogin();
}

// ---- the Passkeys page ----

function formatTime(unix) {
  return unix ? new Date(unix * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : 'never';
}

async function loadPasskeys() {
  const r = await call('GET', '/me/mfa/webauthn');
  if (r.status !== 200) return fail(problem(r, 'Your passkeys could not be listed.'));
  const body = $('passkey-rows');
  body.textContent = '';
  for (const p of r.data.items) {
    const tr = document.createElement('tr');
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = p.name;
    const created = document.createElement('td');
    created.textContent = formatTime(p.created_at);
    const used = document.createElement('td');
    used.textContent = formatTime(p.last_used_at);
    const actions = document.createElement('td');
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'secondary';
    del.textContent = 'Delete';
    del.setAttribute('aria-label', 'Delete passkey ' + p.name);
    del.addEventListener('click', () => deletePasskey(p));
    actions.append(del);
    tr.append(name, created, used, actions);
    body.append(tr);
  }
  $('passkey-empty').hidden = r.data.items.length > 0;
  $('passkey-table').hidden = r.data.items.length === 0;
}

async function passkeysPage() {
  const me = await call('GET', '/me');
  if (me.status !== 200) return goLogin();
  if (me.data.csrf_token) state.csrf = me.data.csrf_token;
  $('who').textContent = me.data.name.replace(/^session:/, '') + ' (' + me.data.role + ')';
  show('passkeys');
  $('passkey-unsupported').hidden = passkeysSupported();
  await loadPasskeys();
  $('passkeys-title').focus();
}

async function addPasskey(ev) {
  ev.preventDefault();
  fail('');
  const name = $('passkey-name').value.trim();
  if (!name) {
    $('passkey-name').focus();
    return fail('Give the passkey a name, such as the device it is on.');
  }
  say('Follow your browser\'s prompt to create the passkey…');
  const started = await call('POST', '/me/mfa/webauthn/start');
  if (started.status !== 200) {
    say('');
    return fail(problem(started, 'Adding a passkey could not start.'));
  }
  let credential;
  try {
    credential = await navigator.credentials.create(creationOptions(started.data.options));
  } catch (e) {
    say('');
    return fail('No passkey was created (' + e.name + ').');
  }
  const body = { ceremony: started.data.ceremony, credential: registrationJSON(credential), name };
  const r = await call('POST', '/me/mfa/webauthn/finish', body);
  if (r.status !== 201) {
    say('');
    return fail(problem(r, 'The passkey was not accepted.'));
  }
  $('passkey-name').value = '';
  await loadPasskeys();
  say('Passkey "' + r.data.passkey.name + '" added. Your other sessions were signed out.');
}

async function deletePasskey(p) {
  fail('');
  const r = await call('DELETE', '/me/mfa/webauthn/' + encodeURIComponent(p.id));
  if (r.status !== 204) return fail(problem(r, 'The passkey could not be deleted.'));
  await loadPasskeys();
  say('Passkey "' + p.name + '" deleted.');
  $('passkeys-title').focus();
}

document.addEventListener('DOMContentLoaded', () => {
  $('passkeys-title').tabIndex = -1;
  $('passkey-login').addEventListener('click', loginWithPasskey);
  $('passkey-form').addEventListener('submit', addPasskey);
});
