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
// - `passkey`: with Chrome's virtual authenticator (DevTools `WebAuthn` domain: CTAP2, internal,
//   resident keys, user verification), log in with password and TOTP, add a passkey on the Passkeys
//   page (axe-core there), log out, log in with password and the passkey; the session's factor is
//   `webauthn`; with $NEWCOMER, that person (no factor yet) then enrols a passkey instead of TOTP on
//   the enrolment page. Needs PORTAL_URL on `localhost` (WebAuthn wants a domain and a secure context).
// Screenshots go to $SCREENSHOTS. Prints one JSON line of findings; exits non-zero with a message on
// any failure.
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import * as OTPAuth from 'otpauth';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const { PORTAL_URL, CHROMIUM, USERNAME, PASSWORD, TOTP_SECRET, SCREENSHOTS, FLOW } = process.env;

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
  await page.waitForSelector(visible('#dashboard'));
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
  await page.waitForSelector(visible('#dashboard'));
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
  await page.waitForSelector(visible('#dashboard'));
  out.second_login = await page.$eval('#me-name', (e) => e.textContent);
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
  await page.waitForSelector(visible('#dashboard'));

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

  const flows = { enrol: enrolFlow, passkey: passkeyFlow };
  await (flows[FLOW] || loginFlow)(page, out);

  check(cspViolations.length === 0, `Content-Security-Policy violations: ${cspViolations}`);
  check(failed.length === 0, `failed requests: ${failed}`);
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`portal browser test failed: ${e.message}\nfindings so far: ${JSON.stringify(out)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
