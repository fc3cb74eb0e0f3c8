// People and API tokens of a tenant (tenant admins) or of every tenant (operator admins): list,
// create, delete or revoke. A new token's secret is shown once, in the page only, never stored.
import { h, page, table, field, options, when, messages, button, confirmDialog } from './dom.js';
import { call, get, problem } from './api.js';
import { register, roles, go } from './router.js';

function roleChoices(me) {
  const tenantRoles = ['tenant_admin', 'tenant_operator', 'tenant_viewer'];
  return roles.operator(me) ? ['operator_admin', ...tenantRoles] : tenantRoles;
}

async function users(_params, me) {
  const msg = messages();
  const list = await get('/users?limit=1000');
  const username = field('Username', { name: 'username', required: true, autocomplete: 'off' });
  const password = field('Initial password (at least 12 characters)', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' });
  const role = field('Role', { name: 'role' }, 'select', options(roleChoices(me), 'tenant_operator'));
  const tenant = roles.operator(me) ? field('Tenant (empty for operator staff)', { name: 'tenant', autocomplete: 'off' }) : null;
  const form = h('form', { id: 'user-form', 'aria-labelledby': 'new-user-title' },
    username.wrap, password.wrap, role.wrap, tenant && tenant.wrap, h('button', { type: 'submit' }, 'Add the person'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { username: username.control.value.trim(), password: password.control.value, role: role.control.value };
    if (tenant && tenant.control.value.trim()) body.tenant = tenant.control.value.trim();
    const r = await call('POST', '/users', body);
    password.control.value = '';
    if (r.status === 201) return go('#/users');
    if (r.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (!r.cancelled) msg.bad(problem(r, 'The person could not be added.'));
  });
  return page('users', 'Users', ...msg.nodes,
    h('div', { class: 'wide', tabindex: '0' }, table('People who can log in', [
      { label: 'Username', cell: (u) => u.username },
      { label: 'Role', cell: (u) => u.role },
      { label: 'Tenant', cell: (u) => u.tenant || 'operator' },
      { label: 'Created', cell: (u) => when(u.created_at) },
      { label: 'Remove', cell: (u) => button('Remove', async () => {
        if (!(await confirmDialog(`Remove ${u.username}? Their sessions end at once.`, 'Remove'))) return;
        const r = await call('DELETE', '/users/' + encodeURIComponent(u.id));
        if (r.status === 204) return go('#/users');
        if (r.approval) return msg.ok('Sent for approval: a second person must approve.');
        if (!r.cancelled) msg.bad(problem(r, 'The person could not be removed.'));
      }, { class: 'danger', 'aria-label': `Remove ${u.username}` }) },
    ], list.items, 'No people yet.')),
    h('section', { 'aria-labelledby': 'new-user-title' }, h('h2', { id: 'new-user-title' }, 'Add a person'), form));
}

async function tokens(_params, me) {
  const msg = messages();
  const list = await get('/tokens?limit=1000');
  const secret = h('div', { id: 'token-secret', 'aria-live': 'polite' });
  const name = field('Name', { name: 'name', required: true, autocomplete: 'off' });
  const role = field('Role', { name: 'role' }, 'select', options(roleChoices(me), 'tenant_viewer'));
  const tenant = roles.operator(me) ? field('Tenant (empty for an operator token)', { name: 'tenant', autocomplete: 'off' }) : null;
  const days = field('Expires after days (empty: never)', { name: 'expires_days', inputmode: 'numeric', autocomplete: 'off' });
  const form = h('form', { id: 'token-form', 'aria-labelledby': 'new-token-title' },
    name.wrap, role.wrap, tenant && tenant.wrap, days.wrap, h('button', { type: 'submit' }, 'Issue the token'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: name.control.value.trim(), role: role.control.value };
    if (tenant && tenant.control.value.trim()) body.tenant = tenant.control.value.trim();
    if (days.control.value.trim()) body.expires_days = Number(days.control.value.trim());
    const r = await call('POST', '/tokens', body);
    if (r.status === 201) {
      secret.replaceChildren(
        h('h2', { id: 'secret-title', tabindex: '-1' }, 'The new token'),
        h('p', {}, 'Copy it now: it is shown only once and cannot be read again.'),
        h('p', { class: 'secret' }, r.data.secret));
      secret.querySelector('h2').focus();
      return;
    }
    if (r.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (!r.cancelled) msg.bad(problem(r, 'The token could not be issued.'));
  });
  return page('tokens', 'API tokens', ...msg.nodes, secret,
    h('div', { class: 'wide', tabindex: '0' }, table('API tokens', [
      { label: 'Name', cell: (t) => t.name },
      { label: 'Role', cell: (t) => t.role },
      { label: 'Tenant', cell: (t) => t.tenant || 'operator' },
      { label: 'Created', cell: (t) => when(t.created_at) },
      { label: 'Expires', cell: (t) => (t.expires_at ? when(t.expires_at) : 'never') },
      { label: 'State', cell: (t) => (t.revoked_at ? 'revoked ' + when(t.revoked_at) : button('Revoke', async () => {
        if (!(await confirmDialog(`Revoke the token ${t.name}? Whatever uses it stops working.`, 'Revoke'))) return;
        const r = await call('DELETE', '/tokens/' + encodeURIComponent(t.id));
        if (r.status === 204 || r.status === 200) return go('#/tokens');
        if (r.approval) return msg.ok('Sent for approval: a second person must approve.');
        if (!r.cancelled) msg.bad(problem(r, 'The token could not be revoked.'));
      }, { class: 'danger', 'aria-label': `Revoke ${t.name}` })) },
    ], list.items, 'No tokens.')),
    h('section', { 'aria-labelledby': 'new-token-title' }, h('h2', { id: 'new-token-title' }, 'Issue a token'), form));
}

register({ name: 'users', title: 'Users', nav: 'Users', allowed: roles.admin, render: users });
register({ name: 'tokens', title: 'API tokens', nav: 'Tokens', allowed: roles.admin, render: tokens });
