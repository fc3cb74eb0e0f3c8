// My sessions: the caller's login sessions and API tokens of their account (GET /me/sessions), and
// "sign out everywhere" (DELETE /me/sessions), which ends this one too.
import { h, page, table, when, messages, button, confirmDialog } from './dom.js';
import { call, get, problem, say } from './api.js';
import { register, roles } from './router.js';
import { sessionEnded } from './auth.js';

async function render() {
  const msg = messages();
  const list = await get('/me/sessions');
  return page('my-sessions', 'My sessions', ...msg.nodes,
    h('div', { class: 'wide', tabindex: '0' }, table('Your sessions', [
      { label: 'Started', cell: (x) => when(x.created_at) + (x.current ? ' (this one)' : '') },
      { label: 'Kind', cell: (x) => x.kind },
      { label: 'Second factor', cell: (x) => x.factor || '' },
      { label: 'Last used', cell: (x) => when(x.last_used_at) },
      { label: 'Expires', cell: (x) => when(x.expires_at) },
      { label: 'From', cell: (x) => x.source },
    ], list.items, 'No sessions.')),
    button('Sign out everywhere', async () => {
      if (!(await confirmDialog('End every session of your account, this one included?', 'Sign out everywhere'))) return;
      const r = await call('DELETE', '/me/sessions');
      if (r.status === 204) {
        sessionEnded();
        say('You are signed out everywhere.');
      } else if (!r.cancelled) msg.bad(problem(r, 'That did not work.'));
    }, { class: 'danger', id: 'sign-out-everywhere' }));
}

register({ name: 'my-sessions', title: 'My sessions', nav: 'My sessions', allowed: roles.any, render });
