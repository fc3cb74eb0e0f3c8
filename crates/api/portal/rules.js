// Rules (IMEI lock, signalling limits) and webhooks of a tenant: list, create, delete. A new
// webhook's signing secret is shown once.
import { h, page, table, field, options, when, messages, button, confirmDialog } from './dom.js';
import { call, get, problem } from './api.js';
import { register, roles, go } from './router.js';

const split = (text) => text.split(/[\s,;]+/).filter(Boolean);

function removeButton(label, path, back, msg) {
  return button('Delete', async () => {
    if (!(await confirmDialog(`Delete ${label}?`, 'Delete'))) return;
    const r = await call('DELETE', path);
    if (r.status === 204 || r.status === 200) return go(back);
    if (r.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (!r.cancelled) msg.bad(problem(r, 'That could not be deleted.'));
  }, { class: 'danger', 'aria-label': `Delete ${label}` });
}

async function rules(_params, me) {
  const msg = messages();
  const list = await get('/rules');
  const kind = field('Kind', { name: 'kind' }, 'select', options([['imei_lock', 'IMEI lock'], ['signalling', 'Signalling limit']]));
  const mode = field('IMEI lock mode', { name: 'mode' }, 'select', options([['first_seen', 'bind the first IMEI seen'], ['list', 'only the listed IMEIs']]));
  const imeis = field('Allowed IMEIs (list mode)', { name: 'imeis', spellcheck: 'false' }, 'textarea');
  const max = field('Most attach and authentication requests per SIM per hour', { name: 'max_per_hour', inputmode: 'numeric', autocomplete: 'off' });
  const imsis = field('Only these IMSIs (empty: every SIM)', { name: 'imsis', spellcheck: 'false' }, 'textarea');
  const action = field('When it fires', { name: 'action' }, 'select', options([['event', 'record an event'], ['suspend', 'suspend the SIM'], ['bar_data', 'blacklist the device (EIR)']]));
  const tenant = roles.operator(me) ? field('Tenant', { name: 'tenant', required: true, autocomplete: 'off' }) : null;
  const sync = () => {
    const lock = kind.control.value === 'imei_lock';
    mode.wrap.hidden = !lock;
    imeis.wrap.hidden = !lock;
    max.wrap.hidden = lock;
  };
  kind.control.addEventListener('change', sync);
  sync();
  const form = h('form', { id: 'rule-form', 'aria-labelledby': 'new-rule-title' },
    kind.wrap, mode.wrap, imeis.wrap, max.wrap, imsis.wrap, action.wrap, tenant && tenant.wrap, h('button', { type: 'submit' }, 'Add the rule'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { kind: kind.control.value, action: action.control.value, imsis: split(imsis.control.value) };
    if (body.kind === 'imei_lock') {
      body.mode = mode.control.value;
      body.imeis = split(imeis.control.value);
    } else body.max_per_hour = Number(max.control.value);
    if (tenant && tenant.control.value.trim()) body.tenant = tenant.control.value.trim();
    const r = await call('POST', '/rules', body);
    if (r.status === 201) return go('#/rules');
    if (r.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (!r.cancelled) msg.bad(problem(r, 'The rule was refused.'));
  });
  return page('rules', 'Rules', ...msg.nodes,
    h('div', { class: 'wide', tabindex: '0' }, table('Rules', [
      { label: 'Kind', cell: (x) => x.kind },
      { label: 'Tenant', cell: (x) => x.tenant },
      { label: 'Rule', cell: (x) => JSON.stringify(x.rule) },
      { label: 'Created', cell: (x) => when(x.created_at) },
      { label: 'Delete', cell: (x) => (roles.admin(me) ? removeButton(`the ${x.kind} rule ${x.id}`, '/rules/' + encodeURIComponent(x.id), '#/rules', msg) : '') },
    ], list.items, 'No rules.')),
    roles.admin(me) ? h('section', { 'aria-labelledby': 'new-rule-title' }, h('h2', { id: 'new-rule-title' }, 'Add a rule'), form) : null);
}

async function webhooks(_params, me) {
  const msg = messages();
  const list = await get('/webhooks');
  const secret = h('div', { id: 'webhook-secret', 'aria-live': 'polite' });
  const url = field('URL (https://…)', { name: 'url', type: 'url', required: true, autocomplete: 'off' });
  const tenant = roles.operator(me) ? field('Tenant', { name: 'tenant', required: true, autocomplete: 'off' }) : null;
  const form = h('form', { id: 'webhook-form', 'aria-labelledby': 'new-webhook-title' }, url.wrap, tenant && tenant.wrap,
    h('button', { type: 'submit' }, 'Add the webhook'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { url: url.control.value.trim() };
    if (tenant && tenant.control.value.trim()) body.tenant = tenant.control.value.trim();
    const r = await call('POST', '/webhooks', body);
    if (r.status === 201) {
      secret.replaceChildren(h('h2', { tabindex: '-1' }, 'The signing secret'),
        h('p', {}, 'Deliveries are signed with HMAC-SHA-256 and this secret. Copy it now: it is shown only once.'),
        h('p', { class: 'secret' }, r.data.secret));
      secret.querySelector('h2').focus();
      return;
    }
    if (!r.cancelled) msg.bad(problem(r, 'The webhook was refused.'));
  });
  return page('webhooks', 'Webhooks', ...msg.nodes, secret,
    h('div', { class: 'wide', tabindex: '0' }, table('Webhooks', [
      { label: 'URL', cell: (w) => w.url },
      { label: 'Tenant', cell: (w) => w.tenant },
      { label: 'Delivered up to event', cell: (w) => String(w.cursor) },
      { label: 'Failures', cell: (w) => (w.failures ? `${w.failures}: ${w.last_error}` : '0') },
      { label: 'Created', cell: (w) => when(w.created_at) },
      { label: 'Delete', cell: (w) => removeButton(`the webhook to ${w.url}`, '/webhooks/' + encodeURIComponent(w.id), '#/webhooks', msg) },
    ], list.items, 'No webhooks.')),
    h('section', { 'aria-labelledby': 'new-webhook-title' }, h('h2', { id: 'new-webhook-title' }, 'Add a webhook'), form));
}

register({ name: 'rules', title: 'Rules', nav: 'Rules', allowed: roles.any, render: rules });
register({ name: 'webhooks', title: 'Webhooks', nav: 'Webhooks', allowed: roles.admin, render: webhooks });
