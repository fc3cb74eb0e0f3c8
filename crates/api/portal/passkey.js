// Passkeys (WebAuthn) in the portal:
// - the login's second step with a passkey ("Use a passkey", shown by auth.js when the ticket's
//   methods name `webauthn`): POST /auth/login/webauthn/start, navigator.credentials.get(), /finish;
// - the enrolment page's "Use a passkey instead" (a passkey as the first factor, with the ticket);
// - the step-up dialog's "Use a passkey" (POST /me/step-up/webauthn/start, .get(), /finish);
// - the Passkeys page (#/passkeys): list, add (navigator.credentials.create()), delete. Adding and
//   deleting need a fresh second factor: the server asks, and api.js's step-up dialog handles it.
// The server's options carry binary values as base64url text; the browser wants ArrayBuffers, and
// its answer goes back as base64url text. No library: the conversions are here.
import { h, $, table, field, when, replace } from './dom.js';
import { call, raw, say, fail, problem, registerStepUpMethod } from './api.js';
import { register, roles } from './router.js';
import { loginTicket, loggedIn, resetLogin } from './auth.js';

/** base64url text (padded or not) → ArrayBuffer. */
export function b64urlToBuffer(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

/** ArrayBuffer (or view) → base64url text without padding. */
export function bufferToB64url(buffer) {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
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

function supported() {
  return typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
}

/** Asks the authenticator for an assertion; throws an Error with a sentence for the person. */
async function getAssertion(options) {
  if (!supported()) throw new Error('This browser does not support passkeys.');
  try {
    return assertionJSON(await navigator.credentials.get(requestOptions(options)));
  } catch (e) {
    throw new Error('No passkey was used (' + e.name + ').');
  }
}

// ---- login: the second step with a passkey ----

async function loginWithPasskey() {
  fail('');
  const ticket = loginTicket();
  say('Waiting for your passkey…');
  try {
    const started = await raw('POST', '/auth/login/webauthn/start', { ticket });
    if (started.status !== 200) {
      if (started.status === 401) resetLogin();
      throw new Error(problem(started, 'The passkey login could not start.'));
    }
    const credential = await getAssertion(started.data.options);
    const r = await raw('POST', '/auth/login/webauthn/finish', { ticket, ceremony: started.data.ceremony, credential, cookie: true });
    if (r.status === 200) {
      say('');
      return loggedIn(r.data.csrf_token);
    }
    if (r.status === 401) resetLogin();
    throw new Error(problem(r, 'The passkey was not accepted.'));
  } catch (e) {
    say('');
    fail(e.message);
  }
}

// ---- enrolment: a passkey as the first second factor (with the enrolment ticket) ----

async function enrolWithPasskey() {
  fail('');
  const ticket = loginTicket();
  if (!supported()) return fail('This browser does not support passkeys. Use an authenticator app.');
  const started = await raw('POST', '/me/mfa/webauthn/start', undefined, ticket);
  if (started.status !== 200) return fail(problem(started, 'The passkey enrolment could not start; log in again.'));
  say('Follow your browser\'s prompt to create the passkey…');
  let credential;
  try {
    credential = registrationJSON(await navigator.credentials.create(creationOptions(started.data.options)));
  } catch (e) {
    say('');
    return fail('No passkey was created (' + e.name + ').');
  }
  const body = { ceremony: started.data.ceremony, credential, name: 'First passkey', cookie: true };
  const r = await raw('POST', '/me/mfa/webauthn/finish', body, ticket);
  say('');
  if (r.status === 201 && r.data.session) return loggedIn(r.data.session.csrf_token);
  fail(problem(r, 'The passkey was not accepted.'));
}

// ---- step-up with a passkey (a button in api.js's dialog) ----

async function stepUpWithPasskey() {
  const started = await raw('POST', '/me/step-up/webauthn/start');
  if (started.status !== 200) throw new Error(problem(started, 'You have no passkey to confirm with.'));
  const credential = await getAssertion(started.data.options);
  const r = await raw('POST', '/me/step-up/webauthn/finish', { ceremony: started.data.ceremony, credential });
  if (r.status !== 200) throw new Error(problem(r, 'The passkey was not accepted.'));
  return true;
}

// ---- the Passkeys page ----

async function addPasskey(name, list) {
  fail('');
  if (!name.value.trim()) {
    name.focus();
    return fail('Give the passkey a name, such as the device it is on.');
  }
  if (!supported()) return fail('This browser does not support passkeys.');
  const started = await call('POST', '/me/mfa/webauthn/start');
  if (started.status !== 200) return started.cancelled ? undefined : fail(problem(started, 'Adding a passkey could not start.'));
  say('Follow your browser\'s prompt to create the passkey…');
  let credential;
  try {
    credential = registrationJSON(await navigator.credentials.create(creationOptions(started.data.options)));
  } catch (e) {
    say('');
    return fail('No passkey was created (' + e.name + ').');
  }
  const r = await call('POST', '/me/mfa/webauthn/finish', { ceremony: started.data.ceremony, credential, name: name.value.trim() });
  if (r.status !== 201) {
    say('');
    return fail(problem(r, 'The passkey was not accepted.'));
  }
  name.value = '';
  await refresh(list);
  say('Passkey "' + r.data.passkey.name + '" added. Your other sessions were signed out.');
}

async function deletePasskey(p, list) {
  fail('');
  const r = await call('DELETE', '/me/mfa/webauthn/' + encodeURIComponent(p.id));
  if (r.status !== 204) return r.cancelled ? undefined : fail(problem(r, 'The passkey could not be deleted.'));
  await refresh(list);
  say('Passkey "' + p.name + '" deleted.');
}

async function refresh(list) {
  const r = await call('GET', '/me/mfa/webauthn');
  if (r.status !== 200) throw new Error(problem(r, 'Your passkeys could not be listed.'));
  const t = table('Your passkeys', [
    { label: 'Name', cell: (p) => p.name },
    { label: 'Added', cell: (p) => when(p.created_at) },
    { label: 'Last used', cell: (p) => (p.last_used_at ? when(p.last_used_at) : 'never') },
    { label: 'Actions', cell: (p) => h('button', {
      type: 'button', class: 'secondary', 'aria-label': 'Delete passkey ' + p.name, onclick: () => deletePasskey(p, list),
    }, 'Delete') },
  ], r.data.items, 'You have no passkey yet.');
  t.id = 'passkey-table';
  replace(list, t);
}

async function render() {
  const list = h('div', { id: 'passkey-list' });
  await refresh(list);
  const name = field('Name (such as the device it is on)', { id: 'passkey-name', name: 'name', maxlength: 64, required: true });
  const form = h('form', { id: 'passkey-form', 'aria-labelledby': 'passkey-add-title', novalidate: true,
    onsubmit: (ev) => { ev.preventDefault(); addPasskey(name.control, list); } },
  name.wrap,
  h('button', { type: 'submit' }, 'Add a passkey'));
  return h('div', { id: 'passkeys' },
    h('h1', { id: 'passkeys-title' }, 'Passkeys'),
    h('p', {}, 'A passkey is a second factor kept by your device (a phone, a laptop\'s fingerprint reader, a ',
      'security key): at login you confirm it instead of typing a one-time code.'),
    supported() ? null : h('p', { class: 'error' }, 'This browser does not support passkeys.'),
    list,
    h('h2', { id: 'passkey-add-title' }, 'Add a passkey'),
    form);
}

register({ name: 'passkeys', title: 'Passkeys', nav: 'Passkeys', allowed: roles.any, render });
registerStepUpMethod({ id: 'passkey', label: 'Use a passkey', run: stepUpWithPasskey });
$('passkey-login').addEventListener('click', loginWithPasskey);
$('enrol-passkey').addEventListener('click', enrolWithPasskey);
