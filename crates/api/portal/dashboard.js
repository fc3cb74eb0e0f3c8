// The dashboard: who is logged in and the SIMs by status.
import { h } from './dom.js';
import { call } from './api.js';
import { register, roles } from './router.js';

const STATUSES = ['inventory', 'active', 'suspended', 'terminated'];

async function countSims(status) {
  const r = await call('GET', '/sims?limit=1000&status=' + encodeURIComponent(status));
  if (r.status !== 200) return '–';
  const n = r.data.items.length;
  return r.data.next_cursor ? n + '+' : String(n);
}

async function render(_params, me) {
  const name = me.name.replace(/^session:/, '');
  const counts = await Promise.all(STATUSES.map(countSims));
  return h('div', { id: 'dashboard' },
    h('h1', { id: 'dashboard-title' }, 'Dashboard'),
    h('dl', { class: 'me' },
      h('dt', {}, 'User'), h('dd', { id: 'me-name' }, name),
      h('dt', {}, 'Role'), h('dd', { id: 'me-role' }, me.role),
      h('dt', {}, 'Tenant'), h('dd', { id: 'me-tenant' }, me.tenant || 'operator')),
    h('h2', { id: 'sims-title' }, 'SIMs by status'),
    h('table', { 'aria-labelledby': 'sims-title' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'SIMs'))),
      h('tbody', { id: 'sim-counts' }, STATUSES.map((s, i) => h('tr', {}, h('th', { scope: 'row' }, s), h('td', {}, counts[i]))))));
}

register({ name: 'dashboard', title: 'Dashboard', nav: 'Dashboard', allowed: roles.any, render });
