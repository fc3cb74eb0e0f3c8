// Approvals (four eyes): changes another person asked for that wait for a second one
// (GET /approvals?status=pending), each approved or rejected here (POST /approvals/{id}/approve or
// /reject); the decided ones under `#/approvals?status=approved|rejected`. The requester cannot
// approve their own (the server decides). While the server has no approvals yet (404), the page says
// so instead of failing.
import { h, page, table, when, messages, button, confirmDialog } from './dom.js';
import { call, problem } from './api.js';
import { register, roles, go } from './router.js';

const STATUSES = ['pending', 'approved', 'rejected'];

async function render(params) {
  const status = STATUSES.includes(params.query.get('status')) ? params.query.get('status') : 'pending';
  const msg = messages();
  const tabs = h('nav', { 'aria-label': 'Approvals by status', class: 'actions' }, STATUSES.map((st) =>
    h('a', { href: '#/approvals?status=' + st, 'aria-current': st === status ? 'page' : null }, st)));
  const r = await call('GET', '/approvals?status=' + status);
  if (r.status === 404) {
    return page('approvals', 'Approvals', h('p', { id: 'approvals-unavailable' }, 'This server does not ask for approvals yet.'));
  }
  if (r.status !== 200) {
    msg.bad(problem(r, 'The approvals could not be read.'));
    return page('approvals', 'Approvals', tabs, ...msg.nodes);
  }
  const decide = (a, verdict) => async () => {
    if (verdict === 'reject' && !(await confirmDialog(`Reject ${a.action} on ${a.resource}, asked by ${a.requested_by}?`, 'Reject'))) return;
    const d = await call('POST', `/approvals/${encodeURIComponent(a.id)}/${verdict}`);
    if (d.status === 200 || d.status === 201 || d.status === 204) {
      go('#/approvals?status=' + (verdict === 'approve' ? 'approved' : 'rejected'));
      return;
    }
    if (!d.cancelled) msg.bad(problem(d, 'The decision was refused.'));
  };
  const columns = [
    { label: 'Action', cell: (a) => a.action },
    { label: 'Resource', cell: (a) => a.resource },
    { label: 'Tenant', cell: (a) => a.tenant || 'operator' },
    { label: 'Asked by', cell: (a) => a.requested_by },
    { label: 'Asked at', cell: (a) => when(a.requested_at) },
    { label: 'Reason', cell: (a) => a.reason || '' },
  ];
  if (status === 'pending') {
    columns.push({ label: 'Decision', cell: (a) => h('div', { class: 'actions' },
      button('Approve', decide(a, 'approve'), { 'aria-label': `Approve ${a.action} on ${a.resource}`, 'data-id': a.id }),
      button('Reject', decide(a, 'reject'), { class: 'danger', 'aria-label': `Reject ${a.action} on ${a.resource}` })) });
  } else {
    columns.push({ label: 'Decided by', cell: (a) => a.decided_by || '' }, { label: 'Decided at', cell: (a) => when(a.decided_at) });
  }
  return page('approvals', 'Approvals', tabs, ...msg.nodes,
    h('div', { class: 'wide', tabindex: '0' }, table(status === 'pending' ? 'Changes waiting for a second person' : `Changes ${status}`,
      columns, r.data.items || [], status === 'pending' ? 'Nothing waits for approval.' : 'None.')));
}

register({ name: 'approvals', title: 'Approvals', nav: 'Approvals', allowed: roles.admin, render });
