// One detection (`#/security/<id>`, GET /analytics/detections/{id}): what was found, its score and
// band, its status and what the tenant's policy did, and its evidence as a definition list (nested
// objects as nested lists, long lists shortened: never a raw JSON dump). Roles that change SIMs
// acknowledge, resolve and undo the action (POST …/acknowledge|resolve|undo); undo asks first, and
// the step-up the server asks for is api.js's generic dialog.
import { h, table, when, confirmDialog, button, messages, notFoundPage, swapPage } from './dom.js';
import { call, problem } from './api.js';
import { roles } from './router.js';

/** The kinds the engine reports (docs/analytics-detections.md); others appear as the API names them. */
export const KINDS = ['scanning', 'volume_spike', 'new_destination', 'dns_tunnelling', 'dga', 'threat_intel',
  'excessive_signalling', 'imei_change', 'cohort_outlier', 'personal_data'];

/** Most items of a list and entries of an object shown; the rest is counted. */
const MAX_ITEMS = 20;
/** Deeper objects are summarised. */
const MAX_DEPTH = 3;

/** A score 0.0–1.0 with two decimals. */
export function scoreText(x) {
  return Number(x).toFixed(2);
}

function scalar(v) {
  if (v === null) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

function more(n) {
  return n > 0 ? ` … and ${n} more` : '';
}

/** One evidence value: a scalar as text, a list of scalars joined, objects as nested lists. */
function evidenceValue(v, depth) {
  if (v === null || typeof v !== 'object') return scalar(v);
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) {
      return v.slice(0, MAX_ITEMS).map(scalar).join(', ') + more(v.length - MAX_ITEMS) || 'none';
    }
    if (depth >= MAX_DEPTH) return `${v.length} item(s)`;
    return h('ol', {}, v.slice(0, MAX_ITEMS).map((x) => h('li', {}, evidenceValue(x, depth + 1))),
      v.length > MAX_ITEMS ? h('li', {}, more(v.length - MAX_ITEMS)) : null);
  }
  if (depth >= MAX_DEPTH) return `${Object.keys(v).length} field(s)`;
  return evidenceList(v, depth + 1);
}

/** Evidence (a JSON object) as a `<dl>`; keys read as words (`destination_ip` → "destination ip"). */
export function evidenceList(obj, depth = 0, attrs = {}) {
  const entries = Object.entries(obj || {});
  if (entries.length === 0) return h('p', attrs, 'No evidence recorded.');
  return h('dl', { class: 'me evidence', ...attrs },
    entries.slice(0, MAX_ITEMS).map(([k, v]) => [h('dt', {}, k.replace(/_/g, ' ')), h('dd', {}, evidenceValue(v, depth))]),
    entries.length > MAX_ITEMS ? [h('dt', {}, 'more'), h('dd', {}, `${entries.length - MAX_ITEMS} field(s) not shown`)] : null);
}

/** A table of detections, each linking to its page (also used on the SIM page). */
export function detectionTable(caption, items, empty) {
  return table(caption, [
    { label: 'Detection', cell: (d) => h('a', { href: '#/security/' + encodeURIComponent(d.id) }, d.id) },
    { label: 'Kind', cell: (d) => d.kind },
    { label: 'Score', cell: (d) => h('span', { class: 'tag' + (d.band === 'critical' || d.band === 'high' ? ' critical' : '') }, `${d.band} ${scoreText(d.score)}`) },
    { label: 'SIM', cell: (d) => h('a', { href: '#/sims/' + encodeURIComponent(d.imsi) }, d.imsi) },
    { label: 'Status', cell: (d) => d.status },
    { label: 'Action', cell: (d) => d.action + (d.action_undone_at ? ' (undone)' : '') },
    { label: 'Reports', cell: (d) => String(d.count) },
    { label: 'Last seen', cell: (d) => when(d.last_seen) },
  ], items, empty);
}

function facts(d) {
  const action = d.action === 'none' ? 'none'
    : `${d.action}${d.action_at ? ' at ' + when(d.action_at) : ''}`
      + (d.action_undone_at ? `, undone at ${when(d.action_undone_at)} by ${d.action_undone_by || '?'}` : '');
  const rows = [
    ['Kind', d.kind], ['Score', `${scoreText(d.score)} (${d.band})`],
    ['SIM', h('a', { href: '#/sims/' + encodeURIComponent(d.imsi) }, d.imsi)],
    ['Status', d.status + (d.status_by ? ` (by ${d.status_by})` : '')],
    ['Action taken', action],
    ['First seen', when(d.first_seen)], ['Last seen', when(d.last_seen)], ['Reports', String(d.count)],
  ];
  return h('dl', { class: 'me', id: 'detection-facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** Whether the action can be undone: something was done to the SIM and not undone yet. */
function undoable(d) {
  return ['quarantine', 'suspend', 'firmware_update'].includes(d.action) && !d.action_undone_at;
}

/** The page of detection `id`. */
export async function detectionPage(id, me) {
  const path = '/analytics/detections/' + encodeURIComponent(id);
  const r = await call('GET', path);
  if (r.status === 404 || r.status === 400) {
    return notFoundPage('Detection not found', `No detection ${id} is visible to you.`, '#/security', 'Back to Security');
  }
  if (r.status !== 200) throw new Error(problem(r, 'The detection could not be read.'));
  const d = r.data;
  const msg = messages();
  const box = h('div', { id: 'detection', class: 'page' });

  const act = async (verb, done, question, label) => {
    if (question && !(await confirmDialog(question, label))) return;
    const a = await call('POST', `${path}/${verb}`);
    if (a.status === 200) return swapPage(box, await detectionPage(id, me), done);
    if (a.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (!a.cancelled) msg.bad(problem(a, 'That was refused.'));
  };

  const actions = [];
  if (roles.changer(me)) {
    if (d.status === 'open') {
      actions.push(button('Acknowledge', () => act('acknowledge', 'The detection is acknowledged.'), { id: 'det-acknowledge' }));
    }
    if (d.status !== 'resolved') {
      actions.push(button('Resolve', () => act('resolve', 'The detection is resolved.'), { id: 'det-resolve' }));
    }
    if (undoable(d)) {
      actions.push(button(`Undo the ${d.action.replace('_', ' ')}`, () => act('undo', 'The action is undone.',
        `Undo the ${d.action.replace('_', ' ')} of SIM ${d.imsi}? Its earlier state is restored.`, 'Undo'),
      { id: 'det-undo', class: 'danger' }));
    }
  }
  box.append(
    h('p', {}, h('a', { href: '#/security' }, '← Security')),
    h('h1', {}, 'Detection ' + d.id),
    ...msg.nodes,
    facts(d),
    actions.length ? h('section', { 'aria-labelledby': 'det-actions-title' },
      h('h2', { id: 'det-actions-title' }, 'Actions'), h('div', { class: 'actions' }, actions)) : null,
    h('section', { 'aria-labelledby': 'evidence-title' },
      h('h2', { id: 'evidence-title' }, 'Evidence'),
      h('p', { class: 'hint' }, 'What the engine saw: counts, ports, destinations — never payload.'),
      d.evidence && typeof d.evidence === 'object' && !Array.isArray(d.evidence)
        ? evidenceList(d.evidence, 0, { id: 'evidence' })
        : h('p', { id: 'evidence' }, 'No evidence recorded.')),
  );
  return box;
}
