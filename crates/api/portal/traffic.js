// A SIM's traffic policy on its page (SUB-2, AV-1; GET/PUT /sims/{imsi}/policy, POST/DELETE
// /sims/{imsi}/quarantine): what is enforced (traffic mode, reachable prefixes and names,
// quarantine), an editor of the SIM's own allowlists (one entry a line; the API's 422 names the bad
// entry, `allow_prefixes[1]: …`, and the message appears under that field, its line marked),
// Quarantine and Lift quarantine with a confirmation (lifting and widening ask for a step-up: the
// generic dialog of api.js), and the SIM's newest detections linking to the Security page.
import { h, field, options, when, confirmDialog, button } from './dom.js';
import { call, problem } from './api.js';
import { roles } from './router.js';
import { detectionTable } from './detection.js';

const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);

function effective(p) {
  const e = p.effective;
  const list = (xs, none) => (xs.length ? h('ul', { class: 'plain' }, xs.map((x) => h('li', {}, h('code', {}, x)))) : none);
  const quarantine = p.quarantine
    ? `since ${when(p.quarantine.since)} by ${p.quarantine.by}: ${p.quarantine.reason}`
    : 'not quarantined';
  const rows = [
    ['Traffic', e.traffic],
    ['Reachable prefixes', list(e.allow_prefixes, e.traffic === 'open' ? 'any' : 'none (DNS only)')],
    ['Resolvable names', list(e.allow_domains, e.traffic === 'open' ? 'any' : 'none')],
    ['Predefined rules', e.predefined_rules.length ? e.predefined_rules.join(', ') : 'none'],
    ['Quarantine', quarantine],
    ['Data sessions', p.sessions.length ? p.sessions.map((s) => `${s.apn} ${s.framed_ip || s.framed_ipv6 || ''} at ${s.pcef}`).join('; ') : 'none'],
  ];
  return h('dl', { class: 'me', id: 'traffic-effective' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** A textarea of entries with an error line under it, tied by `aria-describedby`. */
function listField(name, label, hint, values) {
  const errorId = 'err-' + name;
  const hintId = 'hint-' + name;
  const f = field(label, { name, id: 'tp-' + name, spellcheck: 'false', rows: '4',
    'aria-describedby': `${hintId} ${errorId}` }, 'textarea');
  f.control.value = values.join('\n');
  const error = h('p', { id: errorId, class: 'error field-error', hidden: true });
  f.wrap.append(h('p', { id: hintId, class: 'hint' }, hint), error);
  return {
    ...f,
    error: (text) => {
      error.textContent = text;
      error.hidden = !text;
      if (text) f.control.setAttribute('aria-invalid', 'true'); else f.control.removeAttribute('aria-invalid');
    },
  };
}

function editor(p, imsi, done) {
  const mode = field('With the profile’s lists', { name: 'mode', id: 'tp-mode' }, 'select',
    options([['extend', 'extend them'], ['replace', 'replace them']], p.overrides.mode));
  const prefixes = listField('allow_prefixes', 'Allowed prefixes, one a line',
    'Like 198.51.100.0/24 or 203.0.113.7/32:443/tcp (ports LOW-HIGH; tcp, udp, icmp, icmpv6 or a number).',
    p.overrides.allow_prefixes);
  const domains = listField('allow_domains', 'Allowed names, one a line',
    'Like api.acme.example, or *.ota.acme.example for every name below it.', p.overrides.allow_domains);
  const general = h('p', { class: 'error', role: 'alert', hidden: true });
  const form = h('form', { id: 'traffic-form', 'aria-labelledby': 'traffic-edit-title' },
    mode.wrap, prefixes.wrap, domains.wrap, general, h('button', { type: 'submit' }, 'Save the allowlists'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const f of [prefixes, domains]) f.error('');
    general.hidden = true;
    const body = { mode: mode.control.value, allow_prefixes: lines(prefixes.control.value), allow_domains: lines(domains.control.value) };
    const r = await call('PUT', `/sims/${imsi}/policy`, body);
    if (r.status === 200) return done('The allowlists are saved.');
    if (r.cancelled) return;
    const text = problem(r, 'The allowlists were refused.');
    // "allow_prefixes[1]: …": the message goes under that field, naming the line.
    const m = /^(allow_prefixes|allow_domains)\[(\d+)\]: (.*)$/s.exec(text);
    if (m) {
      const f = m[1] === 'allow_prefixes' ? prefixes : domains;
      f.error(`Line ${Number(m[2]) + 1} (${body[m[1]][Number(m[2])]}): ${m[3]}`);
      f.control.focus();
    } else {
      general.textContent = text;
      general.hidden = false;
    }
  });
  return form;
}

function quarantineButtons(p, imsi, done, fail) {
  if (p.quarantine) {
    return button('Lift quarantine', async () => {
      if (!(await confirmDialog(`Lift the quarantine of SIM ${imsi}? Its allowlists apply again at once.`, 'Lift quarantine'))) return;
      const r = await call('DELETE', `/sims/${imsi}/quarantine`);
      if (r.status === 200) return done('The quarantine is lifted.');
      if (!r.cancelled) fail(problem(r, 'The quarantine could not be lifted.'));
    }, { id: 'act-lift-quarantine' });
  }
  return button('Quarantine', async () => {
    if (!(await confirmDialog(`Quarantine SIM ${imsi}? Only its tenant’s management platform stays reachable, at once.`, 'Quarantine'))) return;
    const r = await call('POST', `/sims/${imsi}/quarantine`, { reason: 'quarantined from the portal' });
    if (r.status === 200) return done('The SIM is quarantined.');
    if (!r.cancelled) fail(problem(r, 'The SIM could not be quarantined.'));
  }, { id: 'act-quarantine', class: 'danger' });
}

async function recentDetections(imsi) {
  const r = await call('GET', `/analytics/detections?limit=10&imsi=${encodeURIComponent(imsi)}`);
  return h('div', { class: 'wide', id: 'sim-detections', tabindex: '0' }, detectionTable('The newest detections of this SIM',
    r.status === 200 ? r.data.items : [], r.status === 200 ? 'No detection.' : problem(r, 'The detections could not be read.')),
  h('p', {}, h('a', { href: '#/security' }, 'All detections on the Security page')));
}

/**
 * The "Traffic policy" and "Detections" sections of SIM `imsi`'s page; `done(text)` re-renders the
 * page with a message, `fail(text)` shows an error in the page's alert region.
 */
export async function trafficSections(imsi, me, done, fail) {
  const [r, detections] = await Promise.all([call('GET', `/sims/${imsi}/policy`), recentDetections(imsi)]);
  const policy = r.status === 200
    ? [effective(r.data),
      roles.changer(me) ? h('div', { class: 'actions' }, quarantineButtons(r.data, imsi, done, fail)) : null,
      roles.changer(me) ? [h('h3', { id: 'traffic-edit-title' }, 'This SIM’s own allowlists'), editor(r.data, imsi, done)] : null]
    : h('p', { class: 'error' }, problem(r, 'The traffic policy could not be read.'));
  return [
    h('section', { 'aria-labelledby': 'traffic-title', id: 'traffic' }, h('h2', { id: 'traffic-title' }, 'Traffic policy'), policy),
    h('section', { 'aria-labelledby': 'sim-detections-title' }, h('h2', { id: 'sim-detections-title' }, 'Detections'), detections),
  ];
}
