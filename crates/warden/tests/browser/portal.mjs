// Drives Debian's chromium through the portal for crates/warden/tests/portal_browser.rs. Two flows,
// chosen by $FLOW:
// - `login` (default): log in with password and a TOTP code, see the dashboard, check accessibility
//   with axe-core on the login page and the dashboard, try a state change without X-CSRF-Token from
//   the page, log out;
// - `enrol`: the first login of a person without a second factor (the admin `warden admin init`
//   made): the enrolment page shows the QR code and the key, a code computed here from the key shown
//   confirms it, the recovery codes are shown once, "I saved them" leads to the dashboard; axe-core on
//   the enrolment and recovery pages; then a fresh login asks for a code (not an enrolment) and one of
//   the recovery codes shown opens the session;
// - `login` also visits every page (axe-core and a screenshot each), suspends and activates a SIM
//   from its page, and drives the generic step-up dialog and approval notice with stubbed answers;
// - `tenant`: a tenant's person sees only the tenant's SIMs; another tenant's SIM is not found and
//   changing it is refused.
// - `security`: a tenant admin (password and TOTP) on the Security page (health, figures, the
//   planted detection, filters), a detection's page (evidence, Acknowledge), another tenant's
//   detection not found, the analytics policy saved; then a SIM's traffic policy: an invalid prefix
//   shows the API's error, a valid allowlist is saved, quarantine, and (after $SYNC_DIR/ready, once
//   $SYNC_DIR/go appears: the test aged the session's factor) lifting it through the step-up dialog
//   with the recovery code $RECOVERY. axe-core on the Security page, the detection and the SIM page.
// - `passkey`: with Chrome's virtual authenticator (DevTools `WebAuthn` domain: CTAP2, internal,
//   resident keys, user verification), log in with password and TOTP, add a passkey on the Passkeys
//   page (axe-core there), log out, log in with password and the passkey; the session's factor is
//   `webauthn`; with $NEWCOMER, that person (no factor yet) then enrols a passkey instead of TOTP on
//   the enrolment page. Needs PORTAL_URL on `localhost` (WebAuthn wants a domain and a secure context).
// - `device`: a tenant's person on the page of a SIM whose LwM2M device (a real client) registered:
//   the Device section shows what objects 3/4 reported and the IMEI mismatch; axe-core there; after
//   $SYNC_DIR/ready, once $SYNC_DIR/go appears (the test changed the battery on the device), Refresh
//   reads the device again and the page shows the new value.
// Screenshots go to $SCREENSHOTS. Prints one JSON line of findings; exits non-zero with a message on
// any failure.
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import * as OTPAuth from 'otpauth';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const { PORTAL_URL, CHROMIUM, USERNAME, PASSWORD, TOTP_SECRET, SCREENSHOTS, FLOW, TENANT, SIM_IMSI, OTHER_IMSI, JOB_IMSI } = process.env;

// Every page of the portal an operator admin sees (issue #15).
const PAGES = ['sims', `sims/${SIM_IMSI}`, 'security', 'jobs', 'approvals', 'rules', 'webhooks', 'users', 'tokens', 'audit',
  'tenants', 'profiles', 'ranges', 'firewall', 'my-sessions', 'password'];

function check(ok, message) {
  if (!ok) throw new Error(message);
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document);
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe-core on ${name}: ${JSON.stringify(bad)}`);
  return found.length;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, name + '.png'), fullPage: true });
}

const visible = (sel) => `${sel}:not([hidden])`;

async function typePassword(page) {
  await page.$eval('#username', (e) => { e.value = ''; });
  await page.type('#username', USERNAME);
  await page.type('#password', PASSWORD);
  await page.click('#password-form button[type=submit]');
}

async function openPortal(page) {
  await page.goto(PORTAL_URL + '/', { waitUntil: 'networkidle0' });
  await page.waitForSelector(visible('#login'));
  check((await page.$eval('html', (h) => h.lang)) === 'en', 'the page has lang="en"');
}

async function loginFlow(page, out) {
  await openPortal(page);
  await shot(page, 'login');
  out.axe_login_minor = await axe(page, 'the login page');

  await typePassword(page);
  await page.waitForSelector(visible('#code-form'));
  await shot(page, 'one-time-code');
  // The enrolment's confirmation used the current period's code; codes are single use, so take the
  // next period's (accepted within the allowed clock drift).
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(TOTP_SECRET), digits: 6, period: 30, algorithm: 'SHA1' });
  await page.type('#code', totp.generate({ timestamp: Date.now() + 30000 }));
  await page.click('#code-form button[type=submit]');
  await page.waitForSelector('#dashboard', { visible: true });
  await page.waitForFunction(() => document.querySelectorAll('#sim-counts tr').length === 4);
  out.me = await page.$eval('#me-name', (e) => e.textContent);
  check(out.me === USERNAME, `the dashboard names the user: ${out.me}`);
  out.role = await page.$eval('#me-role', (e) => e.textContent);
  out.counts = await page.$$eval('#sim-counts tr', (rows) => rows.map((r) => r.textContent.trim().replace(/\s+/g, ' ')));
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.name === '__Host-warden_session');
  check(session && session.httpOnly && session.secure && session.sameSite === 'Strict', `cookie: ${JSON.stringify(cookies)}`);
  check(await page.evaluate(() => !document.cookie.includes('warden_session')), 'the session cookie is not readable by script');
  await shot(page, 'dashboard');
  out.axe_dashboard_minor = await axe(page, 'the dashboard');

  // A change without the CSRF token, from the page itself (the cookie is sent): refused, nothing made.
  out.csrf_less_post = await page.evaluate(async () => {
    const r = await fetch('/api/v1/users', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'mallory', password: 'plum tractor evening lighthouse', role: 'operator_admin' }),
    });
    return r.status;
  });
  check(out.csrf_less_post === 403, `a POST without X-CSRF-Token: ${out.csrf_less_post}`);
  const users = await page.evaluate(async () => (await (await fetch('/api/v1/users')).json()).items.map((u) => u.username));
  check(!users.includes('mallory'), `nothing was created: ${users}`);

  out.pages = await visitPages(page);
  out.search = await searchSims(page);
  out.sim_actions = await simActions(page, SIM_IMSI);
  out.step_up = await stepUpAndApproval(page, SIM_IMSI);
  out.job = await jobFlow(page, JOB_IMSI);
  out.approvals = await approvalsPage(page);
  out.dashboard_after = await dashboardAfter(page);

  await page.click('#logout');
  await page.waitForSelector(visible('#login'));
  out.me_after_logout = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
  check(out.me_after_logout === 401, `after logout /me answers ${out.me_after_logout}`);
  check(!(await page.cookies()).some((c) => c.name === '__Host-warden_session'), 'the cookie is cleared');
  await shot(page, 'logged-out');
}

async function enrolFlow(page, out) {
  await openPortal(page);
  await typePassword(page);
  await page.waitForSelector(visible('#enrolment'));
  await page.waitForFunction(() => document.getElementById('enrolment-qr').complete
    && document.getElementById('enrolment-qr').naturalWidth > 0);
  out.qr = await page.$eval('#enrolment-qr', (i) => ({ width: i.naturalWidth, data: i.src.startsWith('data:image/svg+xml'), alt: i.alt }));
  check(out.qr.data && out.qr.width > 100 && out.qr.alt.length > 0, `the QR code image: ${JSON.stringify(out.qr)}`);
  const key = (await page.$eval('#enrolment-key', (e) => e.textContent)).replace(/\s+/g, '');
  check(/^[A-Z2-7]{32}$/.test(key), `the key for manual entry: ${key}`);
  out.focus = await page.evaluate(() => document.activeElement.id);
  await shot(page, 'enrolment');
  out.axe_enrolment_minor = await axe(page, 'the enrolment page');

  await page.type('#enrolment-code', wrongCode(key));
  await page.click('#enrolment-form button[type=submit]');
  await page.waitForSelector(visible('#error'));
  out.wrong_code = await page.$eval('#error', (e) => e.textContent);
  check(!(await page.$eval('#enrolment', (e) => e.hidden)), 'a wrong code keeps the enrolment page');

  await page.type('#enrolment-code', totpOf(key).generate());
  await page.click('#enrolment-form button[type=submit]');
  await page.waitForSelector(visible('#recovery'));
  const codes = await page.$$eval('#recovery-codes li', (li) => li.map((e) => e.textContent));
  out.recovery_codes = codes.length;
  check(codes.length === 10 && codes.every((c) => /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/.test(c)), `recovery codes: ${codes}`);
  check(await page.evaluate(() => document.getElementById('error').hidden), 'no error after the right code');
  await shot(page, 'recovery-codes');
  out.axe_recovery_minor = await axe(page, 'the recovery codes page');
  await page.click('#recovery-done');
  await page.waitForSelector('#dashboard', { visible: true });
  await page.waitForFunction(() => document.querySelectorAll('#sim-counts tr').length === 4);
  out.me = await page.$eval('#me-name', (e) => e.textContent);
  out.role = await page.$eval('#me-role', (e) => e.textContent);
  check(await page.evaluate(() => document.getElementById('recovery-codes').children.length === 0), 'the codes are gone');
  await shot(page, 'dashboard-after-enrolment');

  // The factor is active: the next login asks for a code, and a recovery code shown above works.
  await page.click('#logout');
  await page.waitForSelector(visible('#login'));
  await typePassword(page);
  await page.waitForSelector(visible('#code-form'));
  await page.type('#code', codes[3]);
  await page.click('#code-form button[type=submit]');
  await page.waitForSelector('#dashboard', { visible: true });
  out.second_login = await page.$eval('#me-name', (e) => e.textContent);
}

/** Goes to `#/<route>` and waits until the router has rendered it. */
async function goTo(page, route) {
  const hash = '#/' + route;
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((h) => document.getElementById('page').dataset.route === h
    && !document.getElementById('page').hidden, {}, hash);
}

/** Each page: rendered with its heading, no error, axe-core clean, a screenshot. */
async function visitPages(page) {
  const seen = {};
  for (const route of PAGES) {
    await goTo(page, route);
    const heading = await page.$eval('#page h1', (e) => e.textContent);
    const errors = await page.$$eval('#page [role=alert]:not([hidden]), #error:not([hidden])', (es) => es.map((e) => e.textContent).filter(Boolean));
    check(errors.length === 0, `#/${route} shows errors: ${errors}`);
    check(await page.evaluate(() => document.activeElement.tagName === 'H1'), `#/${route}: the focus is on the heading`);
    await shot(page, 'page-' + route.replace(/\//g, '-'));
    seen[route] = { heading, axe_minor: await axe(page, '#/' + route) };
  }
  const nav = await page.$$eval('#nav-list a', (as) => as.map((a) => a.getAttribute('href')));
  check(nav.length >= 12, `the operator's navigation: ${nav}`);
  return seen;
}

/** The SIM list's form: an IMSI prefix and a priority give the matching SIMs; an ICCID search too. */
async function searchSims(page) {
  await goTo(page, 'sims');
  await page.type('#sim-filters input[name=q]', '00101000000000');
  await page.select('#sim-filters select[name=priority]', 'critical');
  await page.click('#sim-filters button[type=submit]');
  await page.waitForFunction(() => /priority=critical/.test(document.getElementById('page').dataset.route || ''));
  const critical = await page.$$eval('#page tbody tr th a', (as) => as.map((a) => a.textContent));
  check(await page.$eval('#sim-filters select[name=priority]', (e) => e.value) === 'critical', 'the filter stays chosen');
  await goTo(page, 'sims?q=0019&in=imsi');
  const none = await page.$$eval('#page tbody tr th a', (as) => as.length);
  // Cursor paging: two a page, then the next page from next_cursor.
  await goTo(page, 'sims?limit=2');
  const first = await page.$$eval('#page tbody tr th a', (as) => as.map((a) => a.textContent));
  await page.click('#next-page');
  await page.waitForFunction(() => /cursor=/.test(document.getElementById('page').dataset.route || ''));
  const second = await page.$$eval('#page tbody tr th a', (as) => as.map((a) => a.textContent));
  check(!(await page.$('#next-page')) && (await page.$('#first-page')), 'the last page links back to the first only');
  return { critical, none, pages: [first, second] };
}

/** Waits for the SIM page to show `status`. */
async function simStatus(page, status) {
  await page.waitForFunction((s) => {
    const dd = [...document.querySelectorAll('#sim-facts dt')].find((d) => d.textContent === 'Status');
    return dd && dd.nextElementSibling.textContent === s;
  }, {}, status);
}

/** Suspend then activate a SIM from its page; both changes appear in its event timeline. */
async function simActions(page, imsi) {
  await goTo(page, 'sims/' + imsi);
  const before = await page.$$eval('#sim-events tbody tr', (rs) => rs.filter((r) => r.textContent.includes('sim.status_changed')).length);
  if (await page.$('#act-activate')) {
    await page.click('#act-activate');
    await simStatus(page, 'active');
  }
  await page.waitForSelector('#act-suspend');
  await page.click('#act-suspend');
  await page.waitForSelector('dialog#confirm[open]');
  await shot(page, 'confirm-suspend');
  out.axe_confirm_minor = await axe(page, 'the confirmation dialog');
  await page.click('#confirm-yes');
  await simStatus(page, 'suspended');
  await page.click('#act-activate');
  await simStatus(page, 'active');
  const rows = await page.$$eval('#sim-events tbody tr', (rs) => rs.map((r) => r.textContent));
  const changes = rows.filter((r) => r.includes('sim.status_changed')).length;
  check(changes >= before + 2, `the timeline shows the changes: ${before} then ${JSON.stringify(rows)}`);
  await shot(page, 'sim-after-actions');
  return { before, after: changes };
}

/**
 * The generic answers of api.js, with the server's answers stubbed in the browser (the step-up and
 * approval endpoints are another branch's): a 403 step-up-required opens the dialog, the code goes
 * to /me/step-up, the request is retried once; a 202 with an approval says so.
 */
async function stepUpAndApproval(page, imsi) {
  await goTo(page, 'sims/' + imsi);
  await page.setRequestInterception(true);
  const seen = [];
  let patches = 0;
  const handler = (req) => {
    const url = new URL(req.url());
    if (req.method() === 'PATCH' && url.pathname === `/api/v1/sims/${imsi}`) {
      patches += 1;
      seen.push(`PATCH ${patches}`);
      if (patches === 1) {
        return req.respond({ status: 403, contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'urn:warden:problem:step-up-required', title: 'Forbidden', status: 403, detail: 'Suspending needs a fresh second factor.' }) });
      }
      return req.respond({ status: 202, contentType: 'application/json',
        body: JSON.stringify({ approval: { id: 'ap1', status: 'pending', action: 'sim.suspend', resource: `sims/${imsi}` } }) });
    }
    if (req.method() === 'POST' && url.pathname === '/api/v1/me/step-up') {
      seen.push('step-up ' + req.postData());
      return req.respond({ status: 201, contentType: 'application/json', body: '{}' });
    }
    return req.continue();
  };
  page.on('request', handler);
  try {
    await page.click('#act-suspend');
    await page.waitForSelector('dialog#confirm[open]');
    await page.click('#confirm-yes');
    await page.waitForSelector('dialog#step-up[open]');
    check(await page.evaluate(() => document.activeElement.id === 'step-up-code'), 'the focus is in the step-up dialog');
    await shot(page, 'step-up');
    out.axe_step_up_minor = await axe(page, 'the step-up dialog');
    await page.type('#step-up-code', '123456');
    await page.click('#step-up button[type=submit]');
    await page.waitForFunction(() => /Sent for approval/.test(document.getElementById('sim-detail').textContent));
    check(!(await page.$('dialog#step-up')), 'the dialog is gone');
  } finally {
    page.off('request', handler);
    await page.setRequestInterception(false);
  }
  check(JSON.stringify(seen) === JSON.stringify(['PATCH 1', 'step-up {"method":"totp","code":"123456"}', 'PATCH 2']),
    `step-up then one retry: ${JSON.stringify(seen)}`);
  return seen;
}

/** The dashboard after the changes above: the counts, the chart's bars and the newest events follow. */
async function dashboardAfter(page) {
  await goTo(page, 'dashboard');
  const counts = await page.$$eval('#sim-counts tr', (rows) => rows.map((r) => r.textContent.trim().replace(/\s+/g, ' ')));
  const bars = await page.$$eval('svg.chart rect.bar', (rs) => rs.filter((r) => Number(r.getAttribute('height')) > 0).length);
  const recent = await page.$$eval('section[aria-labelledby=recent-title] tbody tr', (rs) => rs.map((r) => r.textContent));
  check(recent.some((r) => r.includes('sim.status_changed')), `the newest events: ${recent}`);
  await shot(page, 'dashboard-after-changes');
  out.axe_dashboard_after_minor = await axe(page, 'the dashboard with data');
  return { counts, bars, recent: recent.length };
}

/** The Approvals page against the approvals contract, answered by stubs in the browser. */
async function approvalsPage(page) {
  const now = Math.floor(Date.now() / 1000);
  const pending = { id: 'ap1', action: 'sim.terminate', resource: `sims/${SIM_IMSI}`, tenant: 'acme', requested_by: 'user:bob',
    requested_at: now - 60, status: 'pending', reason: 'device stolen', decided_by: null, decided_at: null };
  const decided = { ...pending, status: 'approved', decided_by: `user:${USERNAME}`, decided_at: now };
  const posted = [];
  await page.setRequestInterception(true);
  const handler = (req) => {
    const url = new URL(req.url());
    const json = (body) => req.respond({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    if (req.method() === 'GET' && url.pathname === '/api/v1/approvals') {
      return json({ items: url.searchParams.get('status') === 'pending' ? [pending] : [decided] });
    }
    if (req.method() === 'POST' && url.pathname.startsWith('/api/v1/approvals/')) {
      posted.push(url.pathname + ' ' + (req.headers()['x-csrf-token'] ? 'csrf' : 'no-csrf'));
      return json(decided);
    }
    return req.continue();
  };
  page.on('request', handler);
  try {
    await goTo(page, 'approvals');
    const row = await page.$eval('#page tbody tr', (r) => r.textContent);
    check(row.includes('sim.terminate') && row.includes('user:bob'), `the pending approval: ${row}`);
    await shot(page, 'approvals-pending');
    out.axe_approvals_minor = await axe(page, 'the pending approvals');
    await page.click('#page button[data-id=ap1]');
    await page.waitForFunction(() => document.getElementById('page').dataset.route === '#/approvals?status=approved');
    const after = await page.$eval('#page tbody tr', (r) => r.textContent);
    check(after.includes(`user:${USERNAME}`), `the decided approval: ${after}`);
  } finally {
    page.off('request', handler);
    await page.setRequestInterception(false);
  }
  return posted;
}

/** A bulk job from the jobs page: suspend a list of IMSIs (one of them unknown), watch it finish. */
async function jobFlow(page, imsi) {
  await goTo(page, 'jobs');
  await page.select('#job-form select[name=status]', 'suspended');
  await page.type('#job-form textarea[name=imsis]', `${imsi}\n999990000000001`);
  await page.click('#job-form button[type=submit]');
  await page.waitForFunction(() => /^#\/jobs\/./.test(document.getElementById('page').dataset.route || ''));
  await page.waitForFunction(() => /succeeded|completed/.test(document.getElementById('job-state').textContent), { timeout: 20000 });
  await page.waitForFunction(() => document.querySelectorAll('#job-items tbody tr').length === 2);
  const results = await page.$$eval('#job-items tbody tr', (rs) => rs.map((r) => r.textContent.replace(/\s+/g, ' ')));
  await shot(page, 'job');
  out.axe_job_minor = await axe(page, 'a job');
  return { state: await page.$eval('#job-state', (e) => e.textContent), results };
}

/** A tenant's person: sees only the tenant's SIMs; another tenant's SIM is not found, and changing it is refused. */
async function tenantFlow(page, out) {
  await openPortal(page);
  await page.type('#tenant', TENANT);
  await typePassword(page);
  await page.waitForSelector('#dashboard', { visible: true });
  out.me = await page.$eval('#me-name', (e) => e.textContent);
  out.tenant = await page.$eval('#me-tenant', (e) => e.textContent);
  out.counts = await page.$$eval('#sim-counts tr', (rows) => rows.map((r) => r.textContent.trim().replace(/\s+/g, ' ')));
  await shot(page, 'tenant-dashboard');
  out.axe_dashboard_minor = await axe(page, "the tenant's dashboard");
  await goTo(page, 'sims');
  out.sims = await page.$$eval('#page tbody tr th a', (as) => as.map((a) => a.textContent));
  out.nav = await page.$$eval('#nav-list a', (as) => as.map((a) => a.getAttribute('href')));
  await shot(page, 'tenant-sims');
  out.axe_sims_minor = await axe(page, "the tenant's SIM list");
  await goTo(page, 'sims/' + OTHER_IMSI);
  out.other_sim = await page.$eval('#page h1', (e) => e.textContent);
  out.other_sim_actions = await page.$$eval('#page button', (bs) => bs.length);
  await shot(page, 'tenant-other-sim');
  out.other_patch = await page.evaluate(async (imsi) => {
    const me = await (await fetch('/api/v1/me')).json();
    const r = await fetch('/api/v1/sims/' + imsi, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
      body: JSON.stringify({ status: 'suspended' }),
    });
    return r.status;
  }, OTHER_IMSI);
  await goTo(page, 'tenants');
  out.operator_page = await page.$eval('#page h1', (e) => e.textContent);
}

/** The rendered texts of `sel`'s elements (table cells apart), whitespace squeezed. */
function texts(page, sel) {
  return page.$$eval(sel, (es) => es.map((e) => e.innerText.trim().replace(/\s+/g, ' ')));
}

/** Waits for the SIM page's effective traffic to read `mode`. */
async function trafficIs(page, mode) {
  await page.waitForFunction((m) => {
    const dt = [...document.querySelectorAll('#traffic-effective dt')].find((d) => d.textContent === 'Traffic');
    return dt && dt.nextElementSibling.textContent === m;
  }, {}, mode);
  return mode;
}

async function waitForSync(name) {
  for (let i = 0; i < 600 && !existsSync(path.join(process.env.SYNC_DIR, name)); i++) await new Promise((r) => setTimeout(r, 100));
  check(existsSync(path.join(process.env.SYNC_DIR, name)), `no ${name} from the test`);
}

/** The Device section's facts (dt → dd text) of the first device. */
function deviceFacts(page) {
  return page.$$eval('#device-0 dt', (dts) => Object.fromEntries(dts.map((d) => [d.textContent, d.nextElementSibling.textContent])));
}

async function deviceFlow(page, out) {
  await openPortal(page);
  await page.type('#tenant', TENANT);
  await typePassword(page);
  await page.waitForSelector('#dashboard', { visible: true });
  await goTo(page, 'sims/' + SIM_IMSI);
  await page.waitForSelector('#sim-device #device-0');
  out.device_heading = await page.$eval('#device-title', (e) => e.textContent);
  out.device = await deviceFacts(page);
  await shot(page, 'sim-device');
  out.axe_device_minor = await axe(page, 'the SIM page with its device');
  writeFileSync(path.join(process.env.SYNC_DIR, 'ready'), '');
  await waitForSync('go');
  await page.click('#device-refresh-0');
  await page.waitForFunction(() => document.querySelector('#sim-detail p.ok')?.textContent === 'The device was read again.');
  out.device_after = await deviceFacts(page);
  out.axe_device_after_minor = await axe(page, 'the SIM page after a refresh');
}

async function securityFlow(page, out) {
  const { DETECTION, OTHER_DETECTION, UNDO_DETECTION, RECOVERY } = process.env;
  await openPortal(page);
  await page.type('#tenant', TENANT);
  await typePassword(page);
  await page.waitForSelector(visible('#code-form'));
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(TOTP_SECRET), digits: 6, period: 30, algorithm: 'SHA1' });
  await page.type('#code', totp.generate({ timestamp: Date.now() + 30000 }));
  await page.click('#code-form button[type=submit]');
  await page.waitForSelector('#dashboard', { visible: true });
  const nav = await page.$$eval('#nav-list a', (as) => as.map((a) => a.getAttribute('href')));
  check(nav.includes('#/security'), `the navigation offers Security: ${nav}`);

  // acme's policy quarantined the SIM for DNS tunnelling: undo it from the detection's page.
  await goTo(page, 'security/' + UNDO_DETECTION);
  const api = (p) => page.evaluate(async (u) => (await (await fetch('/api/v1' + u)).json()), p);
  const traffic = async () => (await api(`/sims/${SIM_IMSI}/policy`)).effective.traffic;
  out.undo = [(await api('/analytics/detections/' + UNDO_DETECTION)).action, await traffic()];
  await page.click('#det-undo');
  await page.waitForSelector('dialog#confirm[open]');
  await page.click('#confirm-yes');
  await page.waitForFunction(() => /undone/.test((document.querySelector('#detection p.ok') || {}).textContent || ''));
  check(!(await page.$('#det-undo')), 'no Undo once undone');
  out.undone_action = await page.$eval('#detection-facts', (dl) => [...dl.querySelectorAll('dt')]
    .find((d) => d.textContent === 'Action taken').nextElementSibling.textContent);
  out.undo.push(await traffic());
  await shot(page, 'detection-undone');

  // The Security page: health, figures (pseudonyms), the detections of acme only.
  await page.click('a[href="#/security"]');
  await page.waitForSelector('#security #health-score');
  out.health = {
    score: await page.$eval('#health-score strong', (e) => e.textContent),
    reasons: await texts(page, '#health-reasons li'),
    risks: await texts(page, '#health-title ~ .grid tbody tr'),
  };
  out.by_kind = await texts(page, '#by-kind tbody tr');
  out.by_status = await texts(page, '#by-status tbody tr');
  check(out.by_status[0] === 'open 2', `by status: ${out.by_status}`);
  out.actions_taken = await texts(page, '#actions-taken tbody tr');
  out.devices_before = await texts(page, '#top-devices tbody tr');
  out.listed = await page.$$eval('#detections tbody tr th a', (as) => as.map((a) => a.textContent));
  const stix = await page.$eval('#stix-export', (a) => a.getAttribute('href'));
  out.stix_type = await page.evaluate(async (u) => (await fetch(u)).headers.get('content-type'), stix);
  check(out.stix_type.startsWith('application/stix+json'), `the STIX link: ${stix} ${out.stix_type}`);
  await shot(page, 'security');
  out.axe_security_minor = await axe(page, 'the Security page');

  // Filters: kind and status live in the hash.
  await page.select('#detection-filters select[name=kind]', 'scanning');
  await page.select('#detection-filters select[name=status]', 'resolved');
  await page.click('#detection-filters button[type=submit]');
  await page.waitForFunction(() => /status=resolved/.test(document.getElementById('page').dataset.route || ''));
  out.filtered_resolved = await page.$$eval('#detections tbody tr th a', (as) => as.map((a) => a.textContent));
  check(await page.$eval('#detection-filters select[name=kind]', (e) => e.value) === 'scanning', 'the kind filter stays chosen');
  await goTo(page, 'security?kind=scanning&status=open');
  check((await page.$$eval('#detections tbody tr th a', (as) => as.map((a) => a.textContent))).includes(DETECTION), 'open scanning');

  // The detection's page: evidence as a definition list; Acknowledge.
  await page.click(`#detections a[href="#/security/${DETECTION}"]`);
  await page.waitForSelector('#detection #evidence');
  out.evidence = await page.$$eval('#evidence > dt, #evidence > dd', (es) => es.map((e) => e.textContent));
  await shot(page, 'detection');
  out.axe_detection_minor = await axe(page, 'a detection');
  await page.click('#det-acknowledge');
  await page.waitForFunction(() => /acknowledged/.test((document.querySelector('#detection p.ok') || {}).textContent || ''));
  check(!(await page.$('#det-acknowledge')), 'no Acknowledge on an acknowledged detection');
  out.acknowledged = await page.evaluate(async (id) => (await (await fetch('/api/v1/analytics/detections/' + id)).json()).status, DETECTION);

  // Another tenant's detection: not found on its page, 404 from the API, not listed.
  await goTo(page, 'security/' + OTHER_DETECTION);
  out.other_page = await page.$eval('#page h1', (e) => e.textContent);
  out.other_api = await page.evaluate(async (id) => (await fetch('/api/v1/analytics/detections/' + id)).status, OTHER_DETECTION);
  const all = await page.evaluate(async () => (await (await fetch('/api/v1/analytics/detections?limit=1000')).json()).items.map((d) => d.id));
  check(!all.includes(OTHER_DETECTION), `the API lists only acme's: ${all}`);

  // The analytics policy: scanning quarantines, devices by IMSI.
  await goTo(page, 'security');
  await page.waitForSelector('#analytics-policy');
  await page.select('#ap-kind-scanning', 'quarantine');
  await page.click('#ap-pseudonymise');
  await page.click('#analytics-policy button[type=submit]');
  await page.waitForFunction(() => /by IMSI/.test((document.getElementById('devices-note') || {}).textContent || ''));
  check(/^Agreed/.test(await page.$eval('#policy-state', (e) => e.textContent)), 'the policy is agreed');
  check(await page.$eval('#ap-kind-scanning', (e) => e.value) === 'quarantine', 'the saved action is shown');
  out.devices_after = await texts(page, '#top-devices tbody tr');
  await shot(page, 'security-policy-saved');

  // The SIM's traffic policy.
  await goTo(page, 'sims/' + SIM_IMSI);
  out.traffic = [await trafficIs(page, 'restricted')];
  out.sim_detections = await page.$$eval('#sim-detections tbody tr th a', (as) => as.map((a) => a.textContent));
  await page.type('#tp-allow_prefixes', '198.51.100.1/24');
  await page.click('#traffic-form button[type=submit]');
  await page.waitForSelector(visible('#err-allow_prefixes'));
  out.bad_prefix = await page.$eval('#err-allow_prefixes', (e) => e.textContent);
  check(await page.$eval('#tp-allow_prefixes', (e) => e.getAttribute('aria-invalid')) === 'true', 'the field is marked invalid');
  await shot(page, 'sim-traffic-invalid');
  out.axe_traffic_invalid_minor = await axe(page, 'the SIM page with an invalid prefix');
  out.prefixes_after_bad = (await api(`/sims/${SIM_IMSI}/policy`)).overrides.allow_prefixes;
  await page.$eval('#tp-allow_prefixes', (e) => { e.value = '203.0.113.7/32:443/tcp'; });
  await page.type('#tp-allow_domains', '*.ota.acme.example');
  await page.click('#traffic-form button[type=submit]');
  await page.waitForFunction(() => /allowlists are saved/.test((document.querySelector('#sim-detail p.ok') || {}).textContent || ''));
  out.saved_prefixes = await page.$$eval('#traffic-effective dd code', (cs) => cs.map((c) => c.textContent).filter((t) => t.includes('/')));
  await page.click('#act-quarantine');
  await page.waitForSelector('dialog#confirm[open]');
  await page.click('#confirm-yes');
  out.traffic.push(await trafficIs(page, 'quarantined'));
  await shot(page, 'sim-quarantined');
  out.axe_sim_traffic_minor = await axe(page, 'the SIM page with its traffic policy');

  // Lifting needs a fresh factor: the test ages it, then the step-up dialog takes a recovery code.
  writeFileSync(path.join(process.env.SYNC_DIR, 'ready'), '');
  await waitForSync('go');
  await page.click('#act-lift-quarantine');
  await page.waitForSelector('dialog#confirm[open]');
  await page.click('#confirm-yes');
  await page.waitForSelector('dialog#step-up[open]');
  out.step_up_dialog = await page.$eval('#step-up-title', (e) => e.textContent);
  await page.type('#step-up-code', RECOVERY);
  await page.click('#step-up button[type=submit]');
  out.traffic.push(await trafficIs(page, 'restricted'));
  await shot(page, 'sim-quarantine-lifted');
}

async function passkeyFlow(page, out) {
  const cdp = await page.createCDPSession();
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  await openPortal(page);
  await typePassword(page);
  await page.waitForSelector(visible('#code-form'));
  check(await page.$eval('#passkey-login', (b) => b.hidden), 'no passkey yet: "Use a passkey" is not offered');
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(TOTP_SECRET), digits: 6, period: 30, algorithm: 'SHA1' });
  await page.type('#code', totp.generate({ timestamp: Date.now() + 30000 }));
  await page.click('#code-form button[type=submit]');
  await page.waitForSelector('#dashboard', { visible: true });

  await page.click('a[href="#/passkeys"]');
  await page.waitForSelector(visible('#passkeys'));
  await page.waitForSelector('#passkey-table td.empty');
  out.axe_passkeys_empty_minor = await axe(page, 'the passkeys page (none yet)');
  await page.type('#passkey-name', 'Virtual authenticator');
  await page.click('#passkey-form button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#passkey-table tbody th').length === 1, { timeout: 15000 })
    .catch(async () => { throw new Error(`no passkey listed: ${await page.$eval('#error', (e) => e.textContent)}`); });
  out.passkeys = await page.$$eval('#passkey-table tbody th', (th) => th.map((e) => e.textContent));
  check(out.passkeys[0] === 'Virtual authenticator', `the passkey is listed: ${out.passkeys}`);
  out.authenticator_credentials = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.length;
  check(out.authenticator_credentials === 1, `the authenticator holds the credential: ${out.authenticator_credentials}`);
  await shot(page, 'passkeys');
  out.axe_passkeys_minor = await axe(page, 'the passkeys page');

  await page.click('#logout');
  await page.waitForSelector(visible('#login'));
  await typePassword(page);
  await page.waitForSelector(visible('#passkey-login'));
  await shot(page, 'second-factor-with-passkey');
  await page.click('#passkey-login');
  // The previous dashboard stays in the (hidden) page area until the new one renders: wait for a
  // visible one.
  await page.waitForSelector('#dashboard', { visible: true });
  out.me = await page.$eval('#me-name', (e) => e.textContent);
  out.factor = await page.evaluate(async () => {
    const s = await (await fetch('/api/v1/me/sessions')).json();
    return s.items.find((i) => i.current).factor;
  });
  check(out.factor === 'webauthn', `the session's factor: ${out.factor}`);
  const creds = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  out.sign_count = creds[0].signCount;
  await shot(page, 'dashboard-after-passkey');

  // A newcomer without a factor enrols a passkey instead of TOTP on the enrolment page.
  if (process.env.NEWCOMER) {
    await page.click('#logout');
    await page.waitForSelector(visible('#login'));
    await page.$eval('#username', (e) => { e.value = ''; });
    await page.type('#username', process.env.NEWCOMER);
    await page.type('#password', PASSWORD);
    await page.click('#password-form button[type=submit]');
    await page.waitForSelector(visible('#enrolment'));
    await shot(page, 'enrolment-with-passkey-option');
    await page.click('#enrol-passkey');
    await page.waitForSelector('#dashboard', { visible: true })
      .catch(async () => { throw new Error(`no dashboard after the passkey enrolment: ${await page.$eval('#error', (e) => e.textContent)}`); });
    await page.waitForFunction((u) => document.getElementById('me-name').textContent === u, {}, process.env.NEWCOMER);
    out.newcomer = await page.$eval('#me-name', (e) => e.textContent);
    out.newcomer_factor = await page.evaluate(async () => {
      const s = await (await fetch('/api/v1/me/sessions')).json();
      return s.items.find((i) => i.current).factor;
    });
    out.newcomer_credentials = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.length;
  }
}

function totpOf(key) {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key), digits: 6, period: 30, algorithm: 'SHA1' });
}

// A 6-digit code that none of the steps the server accepts now (±1 step of drift) would give.
function wrongCode(key) {
  const near = [-60000, -30000, 0, 30000, 60000].map((d) => totpOf(key).generate({ timestamp: Date.now() + d }));
  return ['000000', '111111', '222222', '333333', '444444', '555555'].find((c) => !near.includes(c));
}

mkdirSync(SCREENSHOTS, { recursive: true });
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
});
const out = {};
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  await page.setViewport({ width: 1280, height: 800 });
  const cspViolations = [];
  await page.exposeFunction('reportCsp', (v) => cspViolations.push(v));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => window.reportCsp(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const failed = [];
  page.on('requestfailed', (r) => failed.push(r.url()));

  await ({ enrol: enrolFlow, tenant: tenantFlow, passkey: passkeyFlow, security: securityFlow, device: deviceFlow }[FLOW] || loginFlow)(page, out);

  check(cspViolations.length === 0, `Content-Security-Policy violations: ${cspViolations}`);
  check(failed.length === 0, `failed requests: ${failed}`);
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`portal browser test failed: ${e.message}\nfindings so far: ${JSON.stringify(out)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
