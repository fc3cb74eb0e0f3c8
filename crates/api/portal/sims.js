// SIMs: the list (`#/sims?…`: search by IMSI or ICCID prefix, filters on status, profile, priority,
// IMSI range of a segment and, for the operator, tenant; cursor paging with `next_cursor`, 50 a page
// or `limit` of the hash; the
// filters live in the hash so the back button and links work) and one SIM (`#/sims/<imsi>`: its
// state, serving MME, bound IMEIs, the actions its caller's role allows, the LwM2M device it is in
// (what objects 3/4 reported, registration, IMEI mismatch, a Refresh for roles that may act), its
// traffic policy and detections (traffic.js) and its event timeline).
// Step-up and approvals are handled by api.js for every action.
import { h, page, table, field, options, when, confirmDialog, button, messages, notFoundPage, swapPage } from './dom.js';
import { call, get, problem } from './api.js';
import { register, roles, go } from './router.js';
import { trafficSections } from './traffic.js';

const STATUSES = ['inventory', 'active', 'suspended', 'terminated'];
const PRIORITIES = ['critical', 'standard', 'low'];

/** The API query of the page's filters. */
function apiQuery(q, ranges) {
  const limit = Number(q.get('limit'));
  const out = new URLSearchParams({ limit: limit >= 1 && limit <= 1000 ? String(Math.floor(limit)) : '50' });
  for (const k of ['status', 'profile', 'priority', 'tenant', 'cursor']) if (q.get(k)) out.set(k, q.get(k));
  const text = (q.get('q') || '').replace(/\s+/g, '');
  if (text && (q.get('in') || 'imsi') === 'imsi') {
    out.set('imsi_from', text.padEnd(6, '0'));
    out.set('imsi_to', text.padEnd(15, '9'));
  } else if (text) out.set('iccid_prefix', text);
  const range = ranges.find((r) => r.id === q.get('range'));
  if (range && !text) {
    out.set('imsi_from', range.imsi_from);
    out.set('imsi_to', range.imsi_to);
  }
  return out;
}

function statusTag(sim) {
  return h('span', { class: 'tag' }, sim.status);
}

function priorityTag(p) {
  return h('span', { class: 'tag' + (p === 'critical' ? ' critical' : '') }, p);
}

async function list(params, me) {
  const q = params.query;
  const [profiles, ranges] = await Promise.all([get('/profiles'), get('/ranges')]);
  const text = (q.get('q') || '').replace(/\s+/g, '');
  const msg = messages();
  if (text && !/^[0-9]{1,20}$/.test(text)) msg.bad('Search for digits: the start of an IMSI or an ICCID.');
  const r = msg.nodes[1].hidden ? await call('GET', '/sims?' + apiQuery(q, ranges.items)) : { status: 0 };
  if (r.status && r.status !== 200) msg.bad(problem(r, 'The SIMs could not be listed.'));
  const sims = r.status === 200 ? r.data.items : [];

  const search = field('Search (IMSI or ICCID, its first digits)', { name: 'q', value: q.get('q') || '', inputmode: 'numeric', autocomplete: 'off' });
  const within = field('Search in', { name: 'in' }, 'select', options([['imsi', 'IMSI'], ['iccid', 'ICCID']], q.get('in') || 'imsi'));
  const status = field('Status', { name: 'status' }, 'select', options([['', 'any'], ...STATUSES], q.get('status') || ''));
  const profile = field('Profile', { name: 'profile' }, 'select', options([['', 'any'], ...profiles.items.map((p) => p.name)], q.get('profile') || ''));
  const priority = field('Priority', { name: 'priority' }, 'select', options([['', 'any'], ...PRIORITIES], q.get('priority') || ''));
  const range = field('Segment (IMSI range)', { name: 'range' }, 'select',
    options([['', 'any'], ...ranges.items.map((x) => [x.id, `${x.segment}: ${x.imsi_from}–${x.imsi_to}${x.note ? ' (' + x.note + ')' : ''}`])], q.get('range') || ''));
  const tenant = roles.operator(me) ? field('Tenant', { name: 'tenant', value: q.get('tenant') || '', autocomplete: 'off' }) : null;
  const form = h('form', { class: 'inline', role: 'search', 'aria-label': 'SIMs', id: 'sim-filters' },
    search.wrap, within.wrap, status.wrap, profile.wrap, priority.wrap, range.wrap, tenant && tenant.wrap,
    h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) next.set(k, String(v).trim());
    if (next.get('in') === 'imsi' && !next.get('q')) next.delete('in');
    go('#/sims' + (next.toString() ? '?' + next : ''));
  });

  const paging = [];
  if (q.get('cursor')) {
    const first = new URLSearchParams(q);
    first.delete('cursor');
    paging.push(h('a', { href: '#/sims' + (first.toString() ? '?' + first : ''), id: 'first-page' }, 'First page'));
  }
  if (r.status === 200 && r.data.next_cursor) {
    const next = new URLSearchParams(q);
    next.set('cursor', r.data.next_cursor);
    paging.push(h('a', { href: '#/sims?' + next, id: 'next-page' }, 'Next page'));
  }
  return page('sims', 'SIMs', form, ...msg.nodes,
    h('div', { class: 'wide', tabindex: '0' }, table(`SIMs${q.get('cursor') ? ' (a later page)' : ''}: ${sims.length} shown`, [
      { label: 'IMSI', cell: (x) => h('a', { href: '#/sims/' + x.imsi }, x.imsi) },
      { label: 'ICCID', cell: (x) => x.iccid || '' },
      { label: 'MSISDN', cell: (x) => x.msisdn || '' },
      { label: 'Status', cell: statusTag },
      { label: 'Priority', cell: (x) => priorityTag(x.priority) },
      { label: 'Profile', cell: (x) => x.profile || '' },
      { label: 'Segment', cell: (x) => x.segment },
      ...(roles.operator(me) ? [{ label: 'Tenant', cell: (x) => x.tenant }] : []),
    ], sims, 'No SIM matches.')),
    h('nav', { 'aria-label': 'Pages', class: 'actions' }, paging));
}

// ---- one SIM ----

function facts(sim) {
  const rows = [
    ['IMSI', sim.imsi], ['ICCID', sim.iccid || '–'], ['MSISDN', sim.msisdn || '–'], ['EID', sim.eid || '–'],
    ['Tenant', sim.tenant], ['Status', sim.status], ['Priority', sim.priority], ['Profile', sim.profile || '–'],
    ['Segment', sim.segment], ['Algorithm', sim.algorithm],
    ['Packet data', sim.data_barred ? 'barred' : 'allowed'],
    ['Termination protection', sim.priority !== 'critical' ? 'not a critical SIM'
      : sim.protection_lifted ? 'lifted by the operator' : 'on'],
    ['Serving network (MME)', sim.serving
      ? `${sim.serving.origin_host} (${sim.serving.origin_realm})${sim.serving.plmn ? ', PLMN ' + sim.serving.plmn : ''}, since ${when(sim.serving.since)}`
      : 'not registered'],
    ['Bound IMEIs', sim.bound_imeis.length ? sim.bound_imeis.join(', ') : 'none'],
  ];
  return h('dl', { class: 'me', id: 'sim-facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** Text of a value the device may not have reported. */
const orNone = (v, unit = '') => (v === null || v === undefined ? 'not reported' : `${v}${unit}`);

function deviceFacts(d, i) {
  const imei = d.imei_mismatch
    ? h('strong', { class: 'error' }, `Mismatch: the device reports ${d.reported_imei}, the network last saw ${d.imei_mismatch}`)
    : d.reported_imei ? `No mismatch (the device reports ${d.reported_imei})` : 'No IMEI reported';
  const rows = [
    ['Endpoint', d.endpoint],
    ['State', d.registered ? `Registered (instance ${d.instance})` : 'Not registered'],
    ['Model', orNone(d.model)], ['Manufacturer', orNone(d.manufacturer)],
    ['Firmware version', orNone(d.firmware_version)], ['Serial number', orNone(d.serial)],
    ['Battery', orNone(d.battery, ' %')], ['Signal', orNone(d.signal_dbm, ' dBm')],
    ['Registered', when(d.registered_at)], ['Last seen', when(d.last_seen)],
    ['Objects read', d.objects_read_at ? when(d.objects_read_at) : 'not yet'],
    ['IMEI check', imei],
  ];
  return h('dl', { class: 'me', id: 'device-' + i },
    rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** The "Device" section: the LwM2M device(s) linked to this SIM, from the stored snapshots. */
async function deviceSection(imsi, me, reload, bad) {
  const r = await call('GET', `/sims/${encodeURIComponent(imsi)}/devices`);
  const body = [];
  if (r.status !== 200) {
    body.push(h('p', { class: 'error' }, problem(r, 'The device could not be read.')));
  } else if (r.data.items.length === 0) {
    body.push(h('p', { id: 'device-none' }, 'No LwM2M device has registered with this SIM.'));
  } else {
    r.data.items.forEach((d, i) => {
      if (r.data.items.length > 1) body.push(h('h3', {}, i === 0 ? 'Latest device' : 'Earlier device'));
      body.push(deviceFacts(d, i));
      if (roles.changer(me) && d.registered) {
        body.push(h('div', { class: 'actions' }, button('Refresh', async () => {
          const a = await call('POST', `/devices/${encodeURIComponent(d.endpoint)}/refresh`);
          if (a.status === 200) return reload('The device was read again.');
          if (!a.cancelled) bad(problem(a, 'The device could not be read.'));
        }, { id: 'device-refresh-' + i, 'aria-label': 'Refresh device ' + d.endpoint })));
      }
    });
  }
  return h('section', { id: 'sim-device', 'aria-labelledby': 'device-title' }, h('h2', { id: 'device-title' }, 'Device'), ...body);
}

async function timeline(imsi) {
  // Oldest first from the API; a SIM's events are few, so one page of 1000 is read and shown newest first.
  const r = await call('GET', '/events?limit=1000&imsi=' + encodeURIComponent(imsi));
  const items = r.status === 200 ? r.data.items.slice().reverse() : [];
  return h('div', { class: 'wide', id: 'sim-events', tabindex: '0' }, table('Events of this SIM, newest first', [
    { label: 'Time', cell: (e) => when(e.at) },
    { label: 'Kind', cell: (e) => e.kind },
    { label: 'Detail', cell: (e) => e.detail },
  ], items, r.status === 200 ? 'No events yet.' : problem(r, 'The events could not be read.')));
}

async function detail(params, me) {
  const imsi = params[0];
  const r = await call('GET', '/sims/' + encodeURIComponent(imsi));
  if (r.status === 404 || r.status === 400) {
    return notFoundPage('SIM not found', `No SIM ${imsi} is visible to you.`, '#/sims', 'Back to the SIMs');
  }
  if (r.status !== 200) throw new Error(problem(r, 'The SIM could not be read.'));
  const sim = r.data;
  const msg = messages();
  const box = h('div', { id: 'sim-detail', class: 'page' });

  const reload = async (text) => swapPage(box, await detail(params, me), text);
  const change = async (body, done, question, label) => {
    if (question && !(await confirmDialog(question, label))) return;
    const a = await call('PATCH', '/sims/' + sim.imsi, body);
    if (a.status === 200) return reload(done);
    if (a.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (!a.cancelled) msg.bad(problem(a, 'The change was refused.'));
  };

  const actions = [];
  if (roles.changer(me)) {
    if (sim.status === 'inventory' || sim.status === 'suspended') {
      actions.push(button('Activate', () => change({ status: 'active' }, 'The SIM is active.'), { id: 'act-activate' }));
    }
    if (sim.status === 'active') {
      actions.push(button('Suspend', () => change({ status: 'suspended' }, 'The SIM is suspended.',
        `Suspend SIM ${sim.imsi}? It loses service until it is activated again.`, 'Suspend'), { id: 'act-suspend', class: 'danger' }));
    }
    if (sim.status !== 'terminated') {
      actions.push(button('Terminate', () => change({ status: 'terminated' }, 'The SIM is terminated.',
        `Terminate SIM ${sim.imsi}? This is permanent: it can never be used again.`, 'Terminate'), { id: 'act-terminate', class: 'danger' }));
    }
    actions.push(sim.data_barred
      ? button('Unbar data', () => change({ data_barred: false }, 'Packet data is allowed again.'), { id: 'act-unbar' })
      : button('Bar data', () => change({ data_barred: true }, 'Packet data is barred.',
        `Bar packet data of SIM ${sim.imsi}?`, 'Bar data'), { id: 'act-bar', class: 'danger' }));
  }
  if (roles.operator(me) && sim.priority === 'critical') {
    const lift = !sim.protection_lifted;
    actions.push(button(lift ? 'Lift protection' : 'Restore protection', async () => {
      if (lift && !(await confirmDialog(`Lift the termination protection of critical SIM ${sim.imsi}? Its tenant may then suspend or terminate it.`, 'Lift protection'))) return;
      const a = await call('PUT', `/sims/${sim.imsi}/protection`, { lifted: lift });
      if (a.status === 200) return reload(lift ? 'The protection is lifted.' : 'The protection is restored.');
      if (a.approval) return msg.ok('Sent for approval: a second person must approve.');
      if (!a.cancelled) msg.bad(problem(a, 'The change was refused.'));
    }, { id: lift ? 'act-lift' : 'act-restore', class: lift ? 'danger' : '' }));
  }
  let profileForm = null;
  if (roles.changer(me)) {
    const profiles = await get('/profiles');
    const pick = field('New profile', { name: 'profile' }, 'select', options(profiles.items.map((p) => p.name), sim.profile || ''));
    profileForm = h('form', { class: 'inline', id: 'profile-form', 'aria-labelledby': 'profile-title' },
      pick.wrap, h('button', { type: 'submit' }, 'Change profile'));
    profileForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      change({ profile: pick.control.value }, 'The profile is changed.');
    });
  }
  box.append(
    h('p', {}, h('a', { href: '#/sims' }, '← SIMs')),
    h('h1', {}, 'SIM ' + sim.imsi),
    ...msg.nodes,
    facts(sim),
    actions.length ? h('section', { 'aria-labelledby': 'actions-title' },
      h('h2', { id: 'actions-title' }, 'Actions'), h('div', { class: 'actions' }, actions)) : null,
    profileForm ? h('section', { 'aria-labelledby': 'profile-title' }, h('h2', { id: 'profile-title' }, 'Service profile'), profileForm) : null,
    await deviceSection(sim.imsi, me, reload, msg.bad),
    ...(await trafficSections(sim.imsi, me, reload, msg.bad)),
    h('section', { 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Events'), await timeline(sim.imsi)),
  );
  return box;
}

register({
  name: 'sims', title: 'SIMs', nav: 'SIMs', allowed: roles.any,
  render: (params, me) => (params.length ? detail(params, me) : list(params, me)),
});
