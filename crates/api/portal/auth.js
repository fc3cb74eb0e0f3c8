// Login (password, then a one-time code or a passkey), the enrolment of a second factor for a person who must use
// one and has none, the recovery codes shown once, and logout. These sections are static in
// index.html; the session lives in an HttpOnly cookie and the page keeps only its CSRF token.
import { $, replace, h } from './dom.js';
import { raw, session, say, fail, problem } from './api.js';
import { show, go } from './router.js';

let ticket = null;

/** The login ticket of the second step under way (passkey.js completes it with a passkey). */
export function loginTicket() {
  return ticket;
}

/** Back to the password form. */
export function resetLogin() {
  ticket = null;
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

/** The login completed with a cookie session: keep its CSRF token and show the dashboard. */
export function loggedIn(csrf) {
  session.csrf = csrf;
  session.me = null;
  resetLogin();
  go('#/dashboard');
}

async function submitPassword(ev) {
  ev.preventDefault();
  fail('');
  const tenant = $('tenant').value.trim();
  const body = { username: $('username').value.trim(), password: $('password').value, cookie: true };
  if (tenant) body.tenant = tenant;
  say('Checking your password…');
  const r = await raw('POST', '/auth/login', body);
  $('password').value = '';
  say('');
  if (r.status === 200) return loggedIn(r.data.csrf_token);
  if (r.status === 202 && r.data) {
    ticket = r.data.ticket;
    $('password-form').hidden = true;
    if (r.data.enrolment_required) return startEnrolment();
    // The ticket's methods: `totp`/`recovery` (the code form), `webauthn` (a passkey, passkey.js).
    const methods = r.data.methods || [];
    $('code-form').hidden = !methods.includes('totp');
    $('passkey-login').hidden = !methods.includes('webauthn');
    (methods.includes('totp') ? $('code') : $('passkey-login')).focus();
    return;
  }
  fail(problem(r, 'Login failed.'));
}

async function submitCode(ev) {
  ev.preventDefault();
  fail('');
  say('Checking the code…');
  const r = await raw('POST', '/auth/login/mfa', { ticket, code: $('code').value.trim(), cookie: true });
  $('code').value = '';
  say('');
  if (r.status === 200) return loggedIn(r.data.csrf_token);
  fail(problem(r, 'The code was not accepted.'));
  if (r.status === 401) resetLogin();
}

/**
 * Continues a login whose first step happened elsewhere (an identity provider) with its ticket and
 * the ticket's methods (as after a password).
 */
export function continueWithTicket(t, enrol, methods) {
  ticket = t;
  $('password-form').hidden = true;
  if (enrol) return startEnrolment();
  $('code-form').hidden = !methods.includes('totp');
  $('passkey-login').hidden = !methods.includes('webauthn');
  (methods.includes('totp') ? $('code') : $('passkey-login')).focus();
}

async function startEnrolment() {
  say('Preparing your authenticator key…');
  const r = await raw('POST', '/me/mfa/totp', undefined, ticket);
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
  const r = await raw('POST', '/me/mfa/totp/confirm', body, ticket);
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
  ticket = null;
  session.csrf = data.session.csrf_token;
  replace($('recovery-codes'), data.recovery_codes.map((c) => h('li', {}, c)));
  show('recovery');
  $('recovery-title').focus();
}

/** Ends the session (also on the server) and shows the login page. */
export async function logout() {
  fail('');
  const r = await raw('POST', '/auth/logout');
  if (r.status !== 204 && r.status !== 401) return fail(problem(r, 'Logout failed.'));
  sessionEnded();
  say('You are logged out.');
}

/** Forgets the session and shows the login page. */
export function sessionEnded() {
  session.csrf = null;
  session.me = null;
  resetLogin();
  go('#/login');
}

/** Wires the static forms. */
export function setup() {
  for (const id of ['enrolment-title', 'recovery-title']) $(id).tabIndex = -1;
  $('password-form').addEventListener('submit', submitPassword);
  $('code-form').addEventListener('submit', submitCode);
  $('enrolment-form').addEventListener('submit', submitEnrolmentCode);
  $('recovery-done').addEventListener('click', () => loggedIn(session.csrf));
  $('logout').addEventListener('click', logout);
}
