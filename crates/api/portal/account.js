// My password (`#/password`): a person changes their own password (POST /auth/password: the current
// password, the new one under the platform's rules). Every session of the account ends with it, this
// one included, so the page returns to the login.
import { h, page, field, messages } from './dom.js';
import { raw, problem, say } from './api.js';
import { register, roles } from './router.js';
import { sessionEnded } from './auth.js';

function render(_params, me) {
  const msg = messages();
  const current = field('Current password', { type: 'password', name: 'current', autocomplete: 'current-password', required: true });
  const fresh = field('New password (at least 15 characters, or 8 with a second factor; a passphrase works well)',
    { type: 'password', name: 'new', autocomplete: 'new-password', required: true });
  const again = field('The new password again', { type: 'password', name: 'again', autocomplete: 'new-password', required: true });
  const submit = async (ev) => {
    ev.preventDefault();
    if (fresh.control.value !== again.control.value) {
      msg.bad('The two new passwords differ.');
      again.control.focus();
      return;
    }
    const body = {
      username: me.name.replace(/^session:/, ''),
      current_password: current.control.value,
      new_password: fresh.control.value,
    };
    if (me.tenant) body.tenant = me.tenant;
    // `raw`, not `call`: a wrong current password is a 401 that must not end this session.
    const r = await raw('POST', '/auth/password', body);
    for (const f of [current, fresh, again]) f.control.value = '';
    if (r.status === 204) {
      sessionEnded();
      say('Your password is changed and every session of your account has ended: log in with the new one.');
      return;
    }
    msg.bad(r.status === 401 ? 'The current password is wrong (or the account is locked for a while).'
      : problem(r, 'The password was not changed.'));
    current.control.focus();
  };
  return page('password', 'My password', ...msg.nodes,
    h('p', {}, 'Changing your password signs you out everywhere, this session included.'),
    h('form', { id: 'password-change', onsubmit: submit, novalidate: true },
      current.wrap, fresh.wrap, again.wrap, h('button', { type: 'submit' }, 'Change password')));
}

register({ name: 'password', title: 'My password', nav: 'My password', allowed: roles.any, render });
