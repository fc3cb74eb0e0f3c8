// Bulk jobs: the list, a form to change the status or profile of a list of IMSIs, and one job
// (`#/jobs/<id>`) with its progress (polled every second while it runs: the API has no job stream)
// and its per-item results.
import { h, page, table, field, options, when, messages, button } from './dom.js';
import { call, get, problem } from './api.js';
import { register, roles, go } from './router.js';

const STATUSES = ['active', 'suspended', 'terminated'];

function progress(job) {
  const done = job.succeeded + job.unchanged + job.failed;
  return h('progress', { max: Math.max(job.total, 1), value: done, 'aria-label': `Job ${job.id} progress` }, `${done} of ${job.total}`);
}

async function list(_params, me) {
  const [jobs, profiles] = await Promise.all([get('/jobs?limit=100'), get('/profiles')]);
  const msg = messages();
  const what = field('Change', { name: 'what' }, 'select', options([['status', 'the status'], ['profile', 'the profile']]));
  const status = field('New status', { name: 'status' }, 'select', options(STATUSES));
  const profile = field('New profile', { name: 'profile' }, 'select', options(profiles.items.map((p) => p.name)));
  profile.wrap.hidden = true;
  what.control.addEventListener('change', () => {
    status.wrap.hidden = what.control.value !== 'status';
    profile.wrap.hidden = what.control.value !== 'profile';
  });
  const imsis = field('IMSIs, one a line (or separated by commas or spaces)', { name: 'imsis', required: true, spellcheck: 'false' }, 'textarea');
  const tenant = roles.operator(me) ? field('Tenant (empty: every tenant)', { name: 'tenant', autocomplete: 'off' }) : null;
  const form = h('form', { id: 'job-form', 'aria-labelledby': 'new-job-title' },
    what.wrap, status.wrap, profile.wrap, imsis.wrap, tenant && tenant.wrap, h('button', { type: 'submit' }, 'Start the job'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const list = imsis.control.value.split(/[\s,;]+/).filter(Boolean);
    if (list.length === 0) return msg.bad('Give at least one IMSI.');
    const body = { selection: { imsis: list } };
    if (what.control.value === 'status') body.status = status.control.value; else body.profile = profile.control.value;
    if (tenant && tenant.control.value.trim()) body.tenant = tenant.control.value.trim();
    const r = await call('POST', '/jobs', body);
    if (r.approval) return msg.ok('Sent for approval: a second person must approve.');
    if (r.status === 202 || r.status === 201) return go('#/jobs/' + encodeURIComponent(r.data.id));
    if (!r.cancelled) msg.bad(problem(r, 'The job was refused.'));
  });
  return page('jobs', 'Jobs',
    ...msg.nodes,
    h('div', { class: 'wide', tabindex: '0' }, table('Jobs', [
      { label: 'Job', cell: (j) => h('a', { href: '#/jobs/' + encodeURIComponent(j.id) }, j.id) },
      { label: 'Action', cell: (j) => j.action },
      { label: 'State', cell: (j) => j.state },
      { label: 'Progress', cell: progress },
      { label: 'Failed', cell: (j) => String(j.failed) },
      { label: 'Tenant', cell: (j) => j.tenant },
      { label: 'Created', cell: (j) => `${when(j.created_at)} by ${j.created_by}` },
    ], jobs.items, 'No jobs yet.')),
    roles.changer(me) ? h('section', { 'aria-labelledby': 'new-job-title' }, h('h2', { id: 'new-job-title' }, 'New job'), form) : null);
}

function summary(job) {
  return h('dl', { class: 'me', id: 'job-summary' },
    h('dt', {}, 'Action'), h('dd', {}, job.action),
    h('dt', {}, 'State'), h('dd', { id: 'job-state' }, job.state + (job.cancel_requested ? ' (cancel requested)' : '')),
    h('dt', {}, 'Progress'), h('dd', {}, progress(job), ` ${job.succeeded} changed, ${job.unchanged} unchanged, ${job.failed} failed of ${job.total}`),
    h('dt', {}, 'Tenant'), h('dd', {}, job.tenant),
    h('dt', {}, 'Created'), h('dd', {}, `${when(job.created_at)} by ${job.created_by}`));
}

async function one(params, me) {
  const id = params[0];
  const r = await call('GET', '/jobs/' + encodeURIComponent(id));
  if (r.status === 404) return h('div', { id: 'not-found', class: 'page' }, h('h1', {}, 'Job not found'), h('p', {}, `No job ${id} is visible to you.`));
  if (r.status !== 200) throw new Error(problem(r, 'The job could not be read.'));
  const msg = messages();
  const live = h('div', { 'aria-live': 'polite' }, summary(r.data));
  const results = async () => table('Results (first 1000)', [
    { label: 'IMSI', cell: (i) => i.imsi },
    { label: 'Outcome', cell: (i) => i.outcome },
    { label: 'Detail', cell: (i) => i.detail },
  ], (await get(`/jobs/${encodeURIComponent(id)}/items?limit=1000`)).items, 'No results yet.');
  const itemsBox = h('div', { class: 'wide', tabindex: '0', id: 'job-items' }, await results());
  const box = page('job', 'Job ' + id, h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')), ...msg.nodes, live,
    roles.changer(me) && (r.data.state === 'queued' || r.data.state === 'running')
      ? button('Cancel the job', async () => {
        const c = await call('POST', `/jobs/${encodeURIComponent(id)}/cancel`);
        if (c.status === 200 || c.status === 202) msg.ok('Cancel requested.'); else if (!c.cancelled) msg.bad(problem(c, 'The job could not be cancelled.'));
      }, { class: 'danger', id: 'job-cancel' }) : null,
    h('h2', {}, 'Results per SIM'),
    itemsBox);
  // Poll while the job runs and the page is shown.
  const poll = async () => {
    if (!box.isConnected) return;
    const j = await call('GET', '/jobs/' + encodeURIComponent(id));
    if (j.status !== 200) return;
    live.replaceChildren(summary(j.data));
    if (j.data.state === 'queued' || j.data.state === 'running') setTimeout(poll, 1000);
    else itemsBox.replaceChildren(await results());
  };
  if (r.data.state === 'queued' || r.data.state === 'running') setTimeout(poll, 1000);
  return box;
}

register({
  name: 'jobs', title: 'Jobs', nav: 'Jobs', allowed: roles.any,
  render: (params, me) => (params.length ? one(params, me) : list(params, me)),
});
