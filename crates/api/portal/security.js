// Security (issue #17): the tenant's health score with its reasons and top risks
// (GET /analytics/health), the dashboard figures over a window of days (GET /analytics/dashboard:
// detections first seen per kind, top devices as the API names them — pseudonyms unless the tenant
// opted out —, actions taken; detections by status from the list with `since`), the detections
// (`#/security?kind=&status=&cursor=`, cursor paging), the STIX export and, for admins, the
// analytics policy (analytics-policy.js). One detection is `#/security/<id>` (detection.js). The
// operator names the tenant (`?tenant=`); without one it sees every tenant's detections only.
import { h, page, table, field, options, messages } from './dom.js';
import { call, problem } from './api.js';
import { register, roles, go } from './router.js';
import { detectionPage, detectionTable, scoreText, KINDS } from './detection.js';
import { policySection } from './analytics-policy.js';

const STATUSES = ['open', 'acknowledged', 'resolved'];
const WINDOWS = [[1, 'last 24 hours'], [7, 'last 7 days'], [30, 'last 30 days'], [90, 'last 90 days']];

/** The hash of the Security page with `q`'s parameters. */
function hashOf(q) {
  const s = q.toString();
  return '#/security' + (s ? '?' + s : '');
}

function days(q) {
  const d = Number(q.get('days'));
  return WINDOWS.some(([n]) => n === d) ? d : 30;
}

/** `?tenant=` for the views of one tenant (only the operator names one). */
function tenantParam(tenant) {
  return tenant ? 'tenant=' + encodeURIComponent(tenant) : '';
}

function join(path, ...params) {
  const p = params.filter(Boolean).join('&');
  return p ? path + '?' + p : path;
}

function healthSection(hc) {
  const reasons = hc.reasons.length
    ? h('ul', { id: 'health-reasons' }, hc.reasons.map((r) => h('li', {}, `−${r.penalty}: ${r.text}`)))
    : h('p', { id: 'health-reasons' }, 'Nothing takes points off.');
  return h('section', { 'aria-labelledby': 'health-title' },
    h('h2', { id: 'health-title' }, 'Health check'),
    h('p', { id: 'health-score', class: 'score' }, h('strong', {}, String(hc.score)), ' of 100'),
    h('h3', {}, 'Why'), reasons,
    h('div', { class: 'grid' },
      table('Top risks (detections not resolved)', [
        { label: 'Kind', cell: (r) => r.kind },
        { label: 'Detections', cell: (r) => String(r.detections) },
        { label: 'Highest score', cell: (r) => scoreText(r.max_score) },
      ], hc.top_risks, 'No risk: every detection is resolved.'),
      h('dl', { class: 'me', id: 'health-sims' },
        h('dt', {}, 'Active SIMs'), h('dd', {}, String(hc.active_sims)),
        h('dt', {}, 'Of them with open traffic'), h('dd', {}, String(hc.open_sims)),
        h('dt', {}, 'Of them quarantined'), h('dd', {}, String(hc.quarantined_sims)))));
}

/**
 * Detections last seen within the window, by status (the list's `since` and `status`, up to 1000
 * each: "1000+" beyond). The list has no tenant filter: for the operator these are every tenant's.
 */
async function statusCounts(since) {
  const counts = await Promise.all(STATUSES.map(async (st) => {
    const r = await call('GET', join('/analytics/detections', 'limit=1000', 'status=' + st, 'since=' + since));
    if (r.status !== 200) return [st, '–'];
    return [st, r.data.items.length + (r.data.next_cursor ? '+' : '')];
  }));
  return counts;
}

function dashboardSection(d, byStatus, q, me) {
  const perKind = new Map();
  for (const c of d.by_kind_day) perKind.set(c.kind, (perKind.get(c.kind) || 0) + c.count);
  const windowPick = field('Window', { name: 'days' }, 'select',
    options(WINDOWS.map(([n, t]) => [String(n), t]), String(d.days)));
  const form = h('form', { class: 'inline', id: 'window-form', 'aria-label': 'Time window' },
    windowPick.wrap, h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams(q);
    next.set('days', windowPick.control.value);
    next.delete('cursor');
    go(hashOf(next));
  });
  const devices = d.pseudonymised
    ? 'Devices are shown by pseudonym (the tenant’s policy).'
    : 'Devices are shown by IMSI (the tenant opted out of pseudonyms).';
  return h('section', { 'aria-labelledby': 'figures-title' },
    h('h2', { id: 'figures-title' }, `Figures, ${d.days === 1 ? 'last 24 hours' : 'last ' + d.days + ' days'}`),
    form,
    h('div', { class: 'grid' },
      h('div', { id: 'by-kind' }, table('Detections first seen, by kind', [
        { label: 'Kind', cell: (r) => r[0] },
        { label: 'Detections', cell: (r) => String(r[1]) },
      ], [...perKind].sort((a, b) => b[1] - a[1]), 'No detection in this window.')),
      h('div', { id: 'by-status' }, table('Detections last seen, by status' + (roles.operator(me) ? ' (every tenant)' : ''), [
        { label: 'Status', cell: (r) => r[0] },
        { label: 'Detections', cell: (r) => String(r[1]) },
      ], byStatus)),
      h('div', { id: 'actions-taken' }, table('Actions taken', [
        { label: 'Action', cell: (a) => a.action },
        { label: 'Taken', cell: (a) => String(a.count) },
        { label: 'Undone', cell: (a) => String(a.undone) },
      ], d.actions, 'No action taken.'))),
    h('h3', {}, 'Top devices'),
    h('p', { id: 'devices-note' }, devices),
    h('div', { id: 'top-devices' }, table('Devices with the most serious detections not resolved', [
      { label: 'Device', cell: (x) => x.device },
      { label: 'Detections', cell: (x) => String(x.detections) },
      { label: 'Highest score', cell: (x) => scoreText(x.max_score) },
    ], d.top_devices, 'No device with detections not resolved.')),
    h('details', {}, h('summary', {}, 'Per day'),
      table('Detections first seen per day and kind', [
        { label: 'Day', cell: (c) => c.day },
        { label: 'Kind', cell: (c) => c.kind },
        { label: 'Detections', cell: (c) => String(c.count) },
      ], d.by_kind_day, 'No detection in this window.')));
}

function filterForm(q) {
  const kinds = KINDS.includes(q.get('kind') || '') || !q.get('kind') ? KINDS : [...KINDS, q.get('kind')];
  const kind = field('Kind', { name: 'kind' }, 'select', options([['', 'any'], ...kinds], q.get('kind') || ''));
  const status = field('Status', { name: 'status' }, 'select', options([['', 'any'], ...STATUSES], q.get('status') || ''));
  const form = h('form', { class: 'inline', role: 'search', 'aria-label': 'Detections', id: 'detection-filters' },
    kind.wrap, status.wrap, h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const k of ['tenant', 'days']) if (q.get(k)) next.set(k, q.get(k));
    if (kind.control.value) next.set('kind', kind.control.value);
    if (status.control.value) next.set('status', status.control.value);
    go(hashOf(next));
  });
  return form;
}

async function detectionList(q, me) {
  const params = ['limit=50'];
  for (const k of ['kind', 'status', 'cursor']) if (q.get(k)) params.push(k + '=' + encodeURIComponent(q.get(k)));
  const r = await call('GET', join('/analytics/detections', ...params));
  const items = r.status === 200 ? r.data.items : [];
  const paging = [];
  if (q.get('cursor')) {
    const first = new URLSearchParams(q);
    first.delete('cursor');
    paging.push(h('a', { href: hashOf(first), id: 'detections-first' }, 'First page'));
  }
  if (r.status === 200 && r.data.next_cursor) {
    const next = new URLSearchParams(q);
    next.set('cursor', r.data.next_cursor);
    paging.push(h('a', { href: hashOf(next), id: 'detections-next' }, 'Next page'));
  }
  const own = roles.operator(me) ? ' (every tenant)' : '';
  return h('section', { 'aria-labelledby': 'detections-title' },
    h('h2', { id: 'detections-title' }, 'Detections' + own),
    filterForm(q),
    h('div', { class: 'wide', tabindex: '0', id: 'detections' }, detectionTable(
      `Detections, newest first${q.get('cursor') ? ' (a later page)' : ''}: ${items.length} shown`, items,
      r.status === 200 ? 'No detection matches.' : problem(r, 'The detections could not be listed.'))),
    h('nav', { 'aria-label': 'Pages of detections', class: 'actions' }, paging));
}

function tenantForm(q) {
  const tenant = field('Tenant', { name: 'tenant', value: q.get('tenant') || '', autocomplete: 'off' });
  const form = h('form', { class: 'inline', id: 'security-tenant', 'aria-label': 'Tenant' },
    tenant.wrap, h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    if (tenant.control.value.trim()) next.set('tenant', tenant.control.value.trim());
    go(hashOf(next));
  });
  return form;
}

async function overview(params, me) {
  const q = params.query;
  const tenant = roles.operator(me) ? (q.get('tenant') || '').trim() : '';
  const msg = messages();
  const oneTenant = !roles.operator(me) || tenant;
  const since = Math.floor(Date.now() / 1000) - days(q) * 86400;
  const [hc, dash, byStatus, list] = await Promise.all([
    oneTenant ? call('GET', join('/analytics/health', tenantParam(tenant))) : null,
    oneTenant ? call('GET', join('/analytics/dashboard', tenantParam(tenant), 'days=' + days(q))) : null,
    oneTenant ? statusCounts(since) : null,
    detectionList(q, me),
  ]);
  const views = [];
  if (!oneTenant) views.push(h('p', { id: 'security-hint' }, 'Name a tenant to see its health check, figures and policy.'));
  if (hc && hc.status === 200) views.push(healthSection(hc.data));
  if (dash && dash.status === 200) views.push(dashboardSection(dash.data, byStatus, q, me));
  const failed = [hc, dash].find((r) => r && r.status !== 200);
  if (failed) msg.bad(problem(failed, 'The health check or the figures could not be read.'));
  const stix = join('/api/v1/analytics/export.stix', tenantParam(tenant));
  return page('security', 'Security', ...msg.nodes,
    roles.operator(me) ? tenantForm(q) : null,
    ...views,
    list,
    oneTenant ? h('section', { 'aria-labelledby': 'export-title' },
      h('h2', { id: 'export-title' }, 'Export'),
      h('p', {}, h('a', { href: stix, id: 'stix-export', download: 'warden-detections.stix.json' },
        'Download the detections as STIX 2.1'),
      ' (the newest 10,000; devices named as in the figures).')) : null,
    oneTenant && roles.admin(me) ? await policySection(tenant) : null);
}

register({
  name: 'security', title: 'Security', nav: 'Security', allowed: roles.any,
  render: (params, me) => (params.length ? detectionPage(params[0], me) : overview(params, me)),
});
