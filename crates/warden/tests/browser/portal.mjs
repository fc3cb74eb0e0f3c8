// Drives Debian's chromium through the portal for crates/warden/tests/portal_browser.rs: log in with
// password and a TOTP code, see the dashboard, check accessibility with axe-core on the login page and
// the dashboard, try a state change without X-CSRF-Token from the page, log out. Screenshots go to
// $SCREENSHOTS. Prints one JSON line of findings; exits non-zero with a message on any failure.
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import * as OTPAuth from 'otpauth';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const { PORTAL_URL, CHROMIUM, USERNAME, PASSWORD, TOTP_SECRET, SCREENSHOTS } = process.env;

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

  await page.goto(PORTAL_URL + '/', { waitUntil: 'networkidle0' });
  await page.waitForSelector(visible('#login'));
  check((await page.$eval('html', (h) => h.lang)) === 'en', 'the page has lang="en"');
  await shot(page, 'login');
  out.axe_login_minor = await axe(page, 'the login page');

  await page.type('#username', USERNAME);
  await page.type('#password', PASSWORD);
  await page.click('#password-form button[type=submit]');
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

  check(cspViolations.length === 0, `Content-Security-Policy violations: ${cspViolations}`);
  check(failed.length === 0, `failed requests: ${failed}`);
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`portal browser test failed: ${e.message}\nfindings so far: ${JSON.stringify(out)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
