// The tenant's analytics policy on the Security page (admins; GET/PUT /analytics/policy, PR-1): the
// action per detection kind and for other kinds, the least score that acts, pseudonyms, retention
// and the inputs the engine may use. The form sends the whole policy (the API fills what is left out
// with the defaults of a first agreement); its errors are the API's.
import { h, field, options, messages } from './dom.js';
import { call, problem } from './api.js';
import { go } from './router.js';
import { KINDS } from './detection.js';

const ACTIONS = ['none', 'alert', 'quarantine', 'suspend', 'firmware_update'];
const INPUTS = [['use_flows', 'Flow records (IPFIX/NetFlow)'], ['use_dns', 'DNS queries'],
  ['use_signalling', 'Signalling'], ['use_payload', 'Payload samples (personal data in clear)']];
const DAYS = [['detections_days', 'Days detections are kept'], ['flows_days', 'Days flow summaries are kept'],
  ['dns_days', 'Days the DNS query log is kept']];

function checkbox(label, name, checked) {
  const id = 'ap-' + name;
  const box = h('input', { type: 'checkbox', id, name, checked });
  return { wrap: h('div', { class: 'check' }, box, h('label', { for: id }, label)), box };
}

/** The policy section for `tenant` ('' for one's own). */
export async function policySection(tenant) {
  const query = tenant ? '?tenant=' + encodeURIComponent(tenant) : '';
  const r = await call('GET', '/analytics/policy' + query);
  const msg = messages();
  if (r.status !== 200) {
    msg.bad(problem(r, 'The analytics policy could not be read.'));
    return h('section', { 'aria-labelledby': 'policy-title' }, h('h2', { id: 'policy-title' }, 'Analytics policy'), ...msg.nodes);
  }
  const p = r.data;
  const kinds = [...new Set([...KINDS, ...Object.keys(p.actions)])];
  const perKind = kinds.map((k) => [k, field(k.replace(/_/g, ' '), { name: 'action-' + k, id: 'ap-kind-' + k }, 'select',
    options([['', `default (${p.default_action})`], ...ACTIONS], p.actions[k] || ''))]);
  const fallback = field('Other kinds', { name: 'default_action', id: 'ap-default' }, 'select', options(ACTIONS, p.default_action));
  const minScore = field('Least score that acts (0–1)', { name: 'min_score', id: 'ap-min-score', type: 'number',
    min: '0', max: '1', step: '0.05', value: String(p.min_score) });
  const days = DAYS.map(([name, label]) => [name, field(label + ' (1–730)', { name, id: 'ap-' + name, type: 'number',
    min: '1', max: '730', step: '1', value: String(p[name]) })]);
  const pseudonymise = checkbox('Show devices by pseudonym in figures and exports', 'pseudonymise', p.pseudonymise);
  const inputs = INPUTS.map(([name, label]) => [name, checkbox(label, name, p[name])]);

  const form = h('form', { id: 'analytics-policy', class: 'policy', 'aria-labelledby': 'policy-title' },
    h('fieldset', { class: 'kinds' }, h('legend', {}, 'Action per kind'), perKind.map(([, f]) => f.wrap), fallback.wrap),
    minScore.wrap,
    h('fieldset', {}, h('legend', {}, 'Privacy and retention'), pseudonymise.wrap, days.map(([, f]) => f.wrap)),
    h('fieldset', {}, h('legend', {}, 'What the engine may use'), inputs.map(([, c]) => c.wrap)),
    h('button', { type: 'submit' }, 'Save the policy'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { actions: {}, default_action: fallback.control.value, min_score: Number(minScore.control.value),
      pseudonymise: pseudonymise.box.checked };
    for (const [k, f] of perKind) if (f.control.value) body.actions[k] = f.control.value;
    for (const [name, f] of days) body[name] = Number(f.control.value);
    for (const [name, c] of inputs) body[name] = c.box.checked;
    const a = await call('PUT', '/analytics/policy' + query, body);
    if (a.status === 200) {
      go(location.hash);
      return;
    }
    if (a.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (!a.cancelled) msg.bad(problem(a, 'The policy was refused.'));
  });
  const state = p.agreed
    ? `Agreed; last changed ${new Date(p.updated_at * 1000).toISOString().slice(0, 10)} by ${p.updated_by}.`
    : 'No policy agreed yet: detections are recorded, nothing is done automatically, devices are pseudonymised. Saving agrees to the policy below.';
  return h('section', { 'aria-labelledby': 'policy-title' },
    h('h2', { id: 'policy-title' }, 'Analytics policy'),
    h('p', { id: 'policy-state' }, state),
    ...msg.nodes,
    form);
}
