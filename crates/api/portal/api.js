// The portal's only door to /api/v1: same-origin fetch with the HttpOnly session cookie, the CSRF
// token on every change, and two generic answers handled for every page:
// - 403 `urn:warden:problem:step-up-required`: a modal dialog asks for a fresh second factor, posts
//   it to /me/step-up and retries the request once (passkey and other methods plug in through
//   `stepUpMethods`);
// - 202 with an `approval` object: the change waits for a second person; the page says so.
import { h, $ } from './dom.js';

const API = '/api/v1';
export const STEP_UP_REQUIRED = 'urn:warden:problem:step-up-required';

/** The session as the page knows it: the CSRF token (the cookie itself is out of reach) and /me. */
export const session = { csrf: null, me: null };

/** Called when an authenticated call answers 401 (the session ended); set by app.js. */
export const hooks = { unauthorized: () => {} };

/**
 * Extra ways to step up, shown as buttons in the step-up dialog (a passkey, later): each is
 * `{ id, label, run: async () => boolean }` where `run` performs the whole step-up itself (including
 * its POST to /me/step-up) and resolves true when it succeeded.
 */
export const stepUpMethods = [];

/** Adds a step-up method (see `stepUpMethods`). */
export function registerStepUpMethod(method) {
  stepUpMethods.push(method);
}

/** Shows a polite status message (empty clears it). */
export function say(text) {
  $('status').textContent = text;
}

/** Shows an error in the alert region (empty hides it). */
export function fail(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = !text;
}

/** The problem's detail, or `fallback`. */
export function problem(r, fallback) {
  return (r.data && (r.data.detail || r.data.title)) || fallback;
}

/**
 * One request, nothing handled: `{status, data}`. `bearer`: an enrolment ticket, the only credential
 * the enrolment calls take before a session exists.
 */
export async function raw(method, path, body, bearer) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (bearer) headers['Authorization'] = 'Bearer ' + bearer;
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let r;
  try {
    r = await fetch(API + path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (_) {
    return { status: 0, data: { detail: 'The server cannot be reached.' } };
  }
  let data = null;
  const text = await r.text();
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  return { status: r.status, data };
}

/**
 * An authenticated call with the generic handling: step-up (then one retry), approvals (the result
 * carries `approval` and the page is told), and the end of the session (401).
 */
export async function call(method, path, body) {
  let r = await raw(method, path, body);
  if (r.status === 403 && r.data && r.data.type === STEP_UP_REQUIRED) {
    // The detail speaks to API clients ("… (POST /api/v1/me/step-up, then retry)."); a person reads the
    // first part, capitalised.
    const why = problem(r, '').replace(/\s*\(POST [^)]*\)/, '');
    if (!(await stepUp(why.charAt(0).toUpperCase() + why.slice(1)))) return { status: 403, data: r.data, cancelled: true };
    r = await raw(method, path, body);
  }
  if (r.status === 401) hooks.unauthorized();
  if (r.status === 202 && r.data && r.data.approval && typeof r.data.approval === 'object') {
    r.approval = r.data.approval;
    say(approvalText(r.approval));
  }
  return r;
}

/** The sentence for a change waiting for approval. */
export function approvalText(a) {
  const what = [a.action, a.resource].filter(Boolean).join(' on ');
  return 'Sent for approval: a second person must approve' + (what ? ' (' + what + ')' : '') + '.';
}

/** GET that throws the problem's detail on failure (for pages that cannot show anything else). */
export async function get(path) {
  const r = await call('GET', path);
  if (r.status !== 200) throw new Error(problem(r, 'The server answered ' + r.status + '.'));
  return r.data;
}

// ---- step-up dialog ----

let pending = null;

/**
 * Asks for a fresh second factor in a modal dialog; resolves true when the server accepted one.
 * Concurrent requests share one dialog.
 */
export function stepUp(reason) {
  if (!pending) pending = openStepUp(reason).finally(() => { pending = null; });
  return pending;
}

function openStepUp(reason) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    const code = h('input', {
      id: 'step-up-code', name: 'code', autocomplete: 'one-time-code', required: true, spellcheck: 'false',
    });
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      if (opener && opener.focus) opener.focus();
      resolve(ok);
    };
    const submit = async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      const value = code.value.trim();
      if (!value) { error.textContent = 'Type a code.'; error.hidden = false; code.focus(); return; }
      const r = await raw('POST', '/me/step-up', { method: 'totp', code: value });
      code.value = '';
      if (r.status === 200 || r.status === 201) return finish(true);
      error.textContent = problem(r, 'The code was not accepted.');
      error.hidden = false;
      code.focus();
    };
    const extra = stepUpMethods.map((m) => h('button', {
      type: 'button', id: 'step-up-' + m.id, class: 'secondary',
      onclick: async () => {
        error.hidden = true;
        let ok = false;
        try { ok = await m.run(); } catch (e) { error.textContent = e.message; }
        if (ok) finish(true); else { if (!error.textContent) error.textContent = 'That did not work.'; error.hidden = false; }
      },
    }, m.label));
    const dialog = h('dialog', { id: 'step-up', 'aria-labelledby': 'step-up-title', 'aria-describedby': 'step-up-why' },
      h('h2', { id: 'step-up-title' }, 'Confirm it is you'),
      h('p', { id: 'step-up-why' }, reason || 'This action needs a fresh second factor.',
        ' Enter the 6-digit code from your authenticator app, or one of your recovery codes.'),
      h('form', { onsubmit: submit, novalidate: true },
        h('label', { for: 'step-up-code' }, 'One-time code'),
        code,
        error,
        h('div', { class: 'actions' },
          h('button', { type: 'submit' }, 'Confirm'),
          extra,
          h('button', { type: 'button', class: 'secondary', onclick: () => finish(false) }, 'Cancel'))));
    dialog.addEventListener('cancel', (ev) => { ev.preventDefault(); finish(false); });
    document.body.append(dialog);
    dialog.showModal();
    code.focus();
  });
}
