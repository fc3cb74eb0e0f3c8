// The audit trail (GET /audit, oldest first, cursor paging) and, for the operator, the verification
// of its hash chain (GET /audit/verify).
import { h, page, table, when } from './dom.js';
import { get } from './api.js';
import { register, roles } from './router.js';

async function render(params, me) {
  const cursor = params.query.get('cursor');
  const rows = await get('/audit?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
  let chain = null;
  if (roles.operator(me)) {
    const v = await get('/audit/verify');
    chain = h('p', { id: 'audit-chain', class: v.intact ? 'ok' : 'error' }, v.intact
      ? `The hash chain is intact: ${v.records} record(s) verified.`
      : `The hash chain is broken at record ${v.broken_at}: ${v.reason}`);
  }
  const paging = [];
  if (cursor) paging.push(h('a', { href: '#/audit' }, 'First page'));
  if (rows.next_cursor) paging.push(h('a', { href: '#/audit?cursor=' + encodeURIComponent(rows.next_cursor), id: 'next-page' }, 'Next page'));
  return page('audit', 'Audit trail', chain,
    h('div', { class: 'wide', tabindex: '0' }, table('Audit records, oldest first', [
      { label: 'No.', cell: (r) => String(r.id) },
      { label: 'Time', cell: (r) => when(r.at) },
      { label: 'Who', cell: (r) => `${r.actor} (${r.role})` },
      { label: 'Tenant', cell: (r) => r.tenant },
      { label: 'Action', cell: (r) => r.action },
      { label: 'Resource', cell: (r) => r.resource },
      { label: 'Change', cell: (r) => [r.before, r.after].filter(Boolean).join(' → ') },
      { label: 'From', cell: (r) => r.source },
    ], rows.items, 'No records.')),
    h('nav', { 'aria-label': 'Pages', class: 'actions' }, paging));
}

register({ name: 'audit', title: 'Audit trail', nav: 'Audit', allowed: roles.admin, render });
