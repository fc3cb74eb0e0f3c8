// The dashboard: who is logged in, the SIMs by status and by priority class (GET /stats/sims, one
// grouped query in the caller's scope), critical SIMs out of service, the event feed per minute over
// the last hour as an SVG bar chart with a table as its text alternative, firewall and roaming
// blocks, and the newest events (GET /stats/events). Signalling message rates are metrics, not
// stored data; the event feed is what the portal can chart.
import { h, s, table, when } from './dom.js';
import { get } from './api.js';
import { register, roles } from './router.js';

const STATUSES = ['inventory', 'active', 'suspended', 'terminated'];
const PRIORITIES = ['critical', 'standard', 'low'];

function sum(items, pred) {
  return items.filter(pred).reduce((n, c) => n + c.count, 0);
}

/** Events per minute as bars; the table beside it carries the same numbers. */
function chart(since, perMinute) {
  const minutes = 60;
  const W = 640, H = 160, pad = 28;
  const max = Math.max(1, ...perMinute.values());
  const bw = (W - pad - 8) / minutes;
  const bars = [];
  for (let i = 0; i < minutes; i++) {
    const n = perMinute.get(since + i * 60) || 0;
    const bh = (H - pad - 8) * n / max;
    bars.push(s('rect', { class: 'bar', x: pad + i * bw + 1, y: H - pad - bh, width: Math.max(1, bw - 2), height: bh }));
  }
  return s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-labelledby': 'rate-title rate-desc' },
  s('desc', { id: 'rate-desc' }, `Events per minute over the last hour; the busiest minute had ${max === 1 && perMinute.size === 0 ? 0 : max}.`),
  s('line', { class: 'axis', x1: pad, y1: H - pad, x2: W - 4, y2: H - pad }),
  s('line', { class: 'axis', x1: pad, y1: 8, x2: pad, y2: H - pad }),
  s('text', { x: 2, y: 16 }, String(max)),
  s('text', { x: 2, y: H - pad }, '0'),
  s('text', { x: pad, y: H - 8 }, '−60 min'),
  s('text', { x: W - 40, y: H - 8 }, 'now'),
  bars);
}

async function render(_params, me) {
  const name = me.name.replace(/^session:/, '');
  const [sims, events] = await Promise.all([get('/stats/sims'), get('/stats/events?minutes=60')]);
  const byStatus = STATUSES.map((st) => [st, sum(sims.items, (c) => c.status === st)]);
  const byPriority = PRIORITIES.map((p) => [p, sum(sims.items, (c) => c.priority === p)]);
  const criticalOut = sims.items.filter((c) => c.priority === 'critical' && (c.status === 'suspended' || c.status === 'terminated'));
  const perMinute = new Map();
  const perKind = new Map();
  for (const c of events.items) {
    perMinute.set(c.minute, (perMinute.get(c.minute) || 0) + c.count);
    perKind.set(c.kind, (perKind.get(c.kind) || 0) + c.count);
  }
  // Alerts about critical SIMs the event feed raised (a rule or the EIR held back instead of cutting off).
  const criticalEvents = ['rule.alert_critical', 'eir.critical_blacklisted'].map((k) => [k, perKind.get(k) || 0]).filter(([, n]) => n > 0);
  const blocks = [...perKind].filter(([k]) => k.startsWith('firewall.') || k === 'roaming.rejected');
  const minuteRows = [...perMinute].sort((a, b) => a[0] - b[0]);

  return h('div', { id: 'dashboard', class: 'page' },
    h('h1', { id: 'dashboard-title' }, 'Dashboard'),
    h('dl', { class: 'me' },
      h('dt', {}, 'User'), h('dd', { id: 'me-name' }, name),
      h('dt', {}, 'Role'), h('dd', { id: 'me-role' }, me.role),
      h('dt', {}, 'Tenant'), h('dd', { id: 'me-tenant' }, me.tenant || 'operator')),
    h('section', { 'aria-labelledby': 'alerts-title' },
      h('h2', { id: 'alerts-title' }, 'Alerts'),
      criticalOut.length === 0 && criticalEvents.length === 0
        ? h('p', { id: 'alerts' }, 'No critical SIM is suspended or terminated, and no alert about one in the last hour.')
        : h('ul', { id: 'alerts', class: 'error' },
          criticalOut.map((c) =>
            h('li', {}, `${c.count} critical SIM(s) ${c.status}. `, h('a', { href: `#/sims?priority=critical&status=${c.status}` }, 'Show them'))),
          criticalEvents.map(([k, n]) => h('li', {}, `${n} ${k} event(s) in the last hour.`)))),
    h('div', { class: 'grid' },
      h('section', { 'aria-labelledby': 'sims-title' },
        h('h2', { id: 'sims-title' }, 'SIMs by status'),
        h('table', { 'aria-labelledby': 'sims-title' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col', class: 'num' }, 'SIMs'))),
          h('tbody', { id: 'sim-counts' }, byStatus.map(([st, n]) => h('tr', {}, h('th', { scope: 'row' }, st), h('td', { class: 'num' }, n))))),
        h('p', {}, `${sims.total} SIM(s) in all.`)),
      h('section', { 'aria-labelledby': 'priority-title' },
        h('h2', { id: 'priority-title' }, 'SIMs by priority'),
        h('table', { 'aria-labelledby': 'priority-title' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Priority'), h('th', { scope: 'col', class: 'num' }, 'SIMs'))),
          h('tbody', { id: 'priority-counts' }, byPriority.map(([p, n]) => h('tr', {}, h('th', { scope: 'row' }, p), h('td', { class: 'num' }, n))))))),
    h('section', { 'aria-labelledby': 'rate-title' },
      h('h2', { id: 'rate-title' }, 'Events per minute, last hour'),
      chart(events.since, perMinute),
      h('details', {}, h('summary', {}, 'The same as a table'),
        table('Events per minute (minutes without events are left out)', [
          { label: 'Minute', cell: (r) => when(r[0]) },
          { label: 'Events', cell: (r) => String(r[1]) },
        ], minuteRows, 'No events in the last hour.'))),
    h('div', { class: 'grid' },
      h('section', { 'aria-labelledby': 'blocks-title' },
        h('h2', { id: 'blocks-title' }, 'Firewall and roaming blocks, last hour'),
        table('Blocks by kind', [
          { label: 'Kind', cell: (r) => r[0] },
          { label: 'Events', cell: (r) => String(r[1]) },
        ], blocks, 'No blocks in the last hour.')),
      h('section', { 'aria-labelledby': 'kinds-title' },
        h('h2', { id: 'kinds-title' }, 'Events by kind, last hour'),
        table('Events by kind', [
          { label: 'Kind', cell: (r) => r[0] },
          { label: 'Events', cell: (r) => String(r[1]) },
        ], [...perKind], 'No events in the last hour.'))),
    h('section', { 'aria-labelledby': 'recent-title' },
      h('h2', { id: 'recent-title' }, 'Recent events'),
      h('div', { class: 'wide', tabindex: '0' }, table('The newest events', [
        { label: 'Time', cell: (e) => when(e.at) },
        { label: 'Kind', cell: (e) => e.kind },
        { label: 'SIM', cell: (e) => e.imsi ? h('a', { href: '#/sims/' + encodeURIComponent(e.imsi) }, e.imsi) : '' },
        { label: 'Tenant', cell: (e) => e.tenant || '' },
        { label: 'Detail', cell: (e) => e.detail },
      ], events.recent, 'No events yet.'))));
}

register({ name: 'dashboard', title: 'Dashboard', nav: 'Dashboard', allowed: roles.any, render });
