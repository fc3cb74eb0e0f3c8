// Operator pages: tenants (create; the per-tenant `mfa_required` switch through PATCH
// /tenants/{name}), service profiles (read), IMSI ranges (read, mark a new one), and the roaming
// partners with the signalling firewall's counters (GET /firewall, when this Warden runs one).
import { h, page, table, field, options, when, messages, button } from './dom.js';
import { call, get, problem, raw } from './api.js';
import { register, roles, go } from './router.js';

async function tenants() {
  const msg = messages();
  const list = await get('/tenants?limit=1000');
  const name = field('Name', { name: 'name', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9_-]{1,64}' });
  const form = h('form', { id: 'tenant-form', 'aria-labelledby': 'new-tenant-title' }, name.wrap, h('button', { type: 'submit' }, 'Create the tenant'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await call('POST', '/tenants', { name: name.control.value.trim() });
    if (r.status === 201) return go('#/tenants');
    if (!r.cancelled) msg.bad(problem(r, 'The tenant could not be created.'));
  });
  const toggle = (t) => button(t.mfa_required ? 'Allow password only' : 'Require a second factor', async () => {
    const r = await call('PATCH', '/tenants/' + encodeURIComponent(t.name), { mfa_required: !t.mfa_required });
    if (r.status === 200) return go('#/tenants');
    if (r.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (!r.cancelled) msg.bad(problem(r, 'The switch could not be changed.'));
  }, { 'aria-label': `${t.name}: ${t.mfa_required ? 'allow password-only login' : 'require a second factor'}`, class: 'secondary' });
  return page('tenants', 'Tenants', ...msg.nodes,
    table('Tenants', [
      { label: 'Name', cell: (t) => h('a', { href: '#/sims?tenant=' + encodeURIComponent(t.name) }, t.name) },
      { label: 'Created', cell: (t) => when(t.created_at) },
      { label: 'Second factor', cell: (t) => (t.mfa_required ? 'required' : 'optional') },
      { label: 'Change', cell: toggle },
    ], list.items, 'No tenants.'),
    h('section', { 'aria-labelledby': 'new-tenant-title' }, h('h2', { id: 'new-tenant-title' }, 'New tenant'), form));
}

async function profiles() {
  const list = await get('/profiles');
  return page('profiles', 'Service profiles',
    h('p', {}, 'Profiles are edited with PUT /api/v1/profiles/{name} or profiles.toml (docs/hss.md).'),
    h('div', { class: 'wide', tabindex: '0' }, table('Service profiles', [
      { label: 'Name', cell: (p) => p.name },
      { label: 'Data only', cell: (p) => (p.data_only ? 'yes' : 'no') },
      { label: 'Definition', cell: (p) => h('code', {}, JSON.stringify(p.body)) },
    ], list.items, 'No profiles.')));
}

async function ranges() {
  const msg = messages();
  const list = await get('/ranges');
  const from = field('First IMSI', { name: 'imsi_from', required: true, inputmode: 'numeric', autocomplete: 'off' });
  const to = field('Last IMSI', { name: 'imsi_to', required: true, inputmode: 'numeric', autocomplete: 'off' });
  const segment = field('Segment', { name: 'segment' }, 'select', options(['iot', 'handset']));
  const note = field('Note', { name: 'note', autocomplete: 'off' });
  const form = h('form', { id: 'range-form', 'aria-labelledby': 'new-range-title' }, from.wrap, to.wrap, segment.wrap, note.wrap,
    h('button', { type: 'submit' }, 'Mark the range'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await call('POST', '/ranges', { imsi_from: from.control.value.trim(), imsi_to: to.control.value.trim(), segment: segment.control.value, note: note.control.value.trim() });
    if (r.status === 201) return go('#/ranges');
    if (!r.cancelled) msg.bad(problem(r, 'The range was refused.'));
  });
  return page('ranges', 'IMSI ranges', ...msg.nodes,
    table('IMSI ranges', [
      { label: 'From', cell: (x) => x.imsi_from },
      { label: 'To', cell: (x) => x.imsi_to },
      { label: 'Segment', cell: (x) => x.segment },
      { label: 'Note', cell: (x) => x.note },
      { label: 'Created', cell: (x) => when(x.created_at) },
    ], list.items, 'No ranges.'),
    h('section', { 'aria-labelledby': 'new-range-title' }, h('h2', { id: 'new-range-title' }, 'Mark a range'), form));
}

// Roaming partners and the signalling firewall (GET /firewall): who may send, and what the rules
// decided about each partner since the process started. 404: this process runs no firewall.
async function firewallPage() {
  const r = await raw('GET', '/firewall');
  if (r.status === 404) {
    return page('firewall', 'Roaming partners and firewall',
      h('p', { id: 'firewall-absent' }, 'This Warden runs no signalling firewall ([firewall] is not configured).'));
  }
  if (r.status !== 200) throw new Error(problem(r, 'The firewall could not be read.'));
  const fw = r.data;
  const partners = fw.partners.map((p) => h('section', { 'aria-labelledby': 'partner-' + p.name },
    h('h2', { id: 'partner-' + p.name }, p.name + (p.sinkhole ? ' (sinkholed)' : '')),
    h('dl', { class: 'me' },
      [['PLMNs', p.plmns.join(', ') || '–'], ['Realms', p.realms.join(', ') || '–'],
        ['Origin-Hosts', p.origin_hosts.join(', ') || '–'], ['Addresses', p.addresses.join(', ') || 'any'],
        ['Budget', p.rate_per_sec == null ? 'none' : p.rate_per_sec + ' requests/s']]
        .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    table('Decisions about ' + p.name + ' since the start', [
      { label: 'Rule', cell: (c) => c.rule },
      { label: 'Action', cell: (c) => c.action },
      { label: 'Requests', cell: (c) => String(c.count) },
    ], p.counters, 'No requests yet.')));
  return page('firewall', 'Roaming partners and firewall',
    h('p', {}, 'Firewall ' + fw.origin_host + '. Risky visited networks now: ' + (fw.risky_plmns.join(', ') || 'none') + '.'),
    table('Storm admission by priority', [
      { label: 'Priority', cell: (a) => a.priority },
      { label: 'Admitted', cell: (a) => String(a.admitted) },
      { label: 'Refused', cell: (a) => String(a.refused) },
    ], fw.admissions, 'No requests yet.'),
    ...(partners.length ? partners : [h('p', {}, 'No roaming partners are configured.')]));
}

register({ name: 'tenants', title: 'Tenants', nav: 'Tenants', allowed: roles.operator, render: tenants });
register({ name: 'profiles', title: 'Service profiles', nav: 'Profiles', allowed: roles.operator, render: profiles });
register({ name: 'ranges', title: 'IMSI ranges', nav: 'Ranges', allowed: roles.operator, render: ranges });
register({ name: 'firewall', title: 'Roaming partners and firewall', nav: 'Firewall', allowed: roles.operator, render: firewallPage });
