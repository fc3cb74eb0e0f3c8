// Login with the operator's identity provider (OpenID Connect), when /auth/oidc says one is
// configured: a "Log in with <name>" link to /api/v1/auth/oidc/start on the login page. The server
// sends the browser back to `#/login?error=<code>` after a refused login (shown here as a message,
// nothing more is known to the page) or to `#/login?ticket=…` when Warden's own second factor must
// follow (handed to the code form of auth.js). Either is removed from the address bar at once.
import { $ } from './dom.js';
import { raw, fail } from './api.js';
import { continueWithTicket } from './auth.js';

const MESSAGES = {
  idp: 'The identity provider did not log you in.',
  state: 'That login attempt expired or was already used. Start again.',
  unknown_user: 'No Warden account matches your identity provider account. Ask your administrator.',
  subject_mismatch: 'This Warden account is linked to another identity provider account.',
  token: 'The identity provider\'s answer could not be verified. Start again.',
  id_token: 'The identity provider\'s answer could not be verified. Start again.',
  claims: 'The identity provider did not say who you are.',
  acr: 'The identity provider did not confirm a strong enough login.',
  unavailable: 'The identity provider cannot be reached now. Try again later, or log in with your password.',
};

function fromHash() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  if (path !== 'login' || !query) return;
  const q = new URLSearchParams(query);
  const error = q.get('error');
  const ticket = q.get('ticket');
  if (!error && !ticket) return;
  history.replaceState(null, '', '#/login');
  if (error) fail(MESSAGES[error] || 'The login with the identity provider failed.');
  else continueWithTicket(ticket, q.get('enrol') === '1', (q.get('methods') || 'totp,recovery').split(','));
}

async function offer() {
  const r = await raw('GET', '/auth/oidc');
  if (r.status !== 200 || !r.data || !r.data.enabled) return;
  $('oidc-login').textContent = 'Log in with ' + r.data.name;
  $('oidc').hidden = false;
}

// After the router has drawn the login page (it clears messages first).
window.addEventListener('hashchange', () => setTimeout(fromHash, 0));
setTimeout(fromHash, 0);
offer();
