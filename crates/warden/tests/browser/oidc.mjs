// Drives Debian's chromium through the portal's OpenID Connect login for crates/warden/tests/oidc.rs,
// against the real provider of idp.mjs (started here on $IDP_PORT). Each case runs in a fresh
// browser context:
// - `mfa`: "Log in with …", the provider's login of $MFA_USER with a second factor → the dashboard,
//   with a cookie session (GET /me from the page);
// - `totp`: $TOTP_USER logs in at the provider without a second factor → Warden's code form; a TOTP
//   code from $TOTP_SECRET → the dashboard;
// - `unknown`: a provider user Warden does not know → back on the login page with a message;
// - `replay`: the callback URL of a completed login opened again, and one with a forged state → refused.
// axe-core checks the login page with the provider's button and a refusal message (and takes a screenshot).
// Prints one JSON line of findings; exits non-zero with a message on any failure.
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import * as OTPAuth from 'otpauth';
import { startIdp } from './idp.mjs';

const { PORTAL_URL, CHROMIUM, IDP_PORT, IDP_SECRET, MFA_USER, TOTP_USER, TOTP_SECRET, TOTP_USED_AT, SCREENSHOTS } = process.env;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const CALLBACK = PORTAL_URL + '/api/v1/auth/oidc/callback';

function check(ok, message) {
  if (!ok) throw new Error(message);
}

const visible = (sel) => `${sel}:not([hidden])`;

/** From the portal's login page through the provider's form; resolves when back at the portal. */
async function viaProvider(page, user, mfa) {
  await page.goto(PORTAL_URL + '/#/login', { waitUntil: 'networkidle0' });
  await page.waitForSelector(visible('#oidc'));
  const label = await page.$eval('#oidc-login', (e) => e.textContent);
  await Promise.all([page.waitForNavigation(), page.click('#oidc-login')]);
  await page.waitForSelector('#login');
  await page.type('#login', user);
  if (mfa) await page.click('#mfa');
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('#submit')]);
  return label;
}

/** axe-core on the page: no serious or critical violation; and a screenshot. */
async function axe(page, name) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run(document)).violations
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) })));
  const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe-core on ${name}: ${JSON.stringify(bad)}`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name + '.png'), fullPage: true });
}

async function me(page) {
  return page.evaluate(async () => {
    const r = await fetch('/api/v1/me', { credentials: 'same-origin' });
    return { status: r.status, body: r.status === 200 ? await r.json() : null };
  });
}

async function errorText(page) {
  await page.waitForSelector(visible('#error'));
  return page.$eval('#error', (e) => e.textContent);
}

const idp = await startIdp({ port: Number(IDP_PORT), secret: IDP_SECRET, redirectUri: CALLBACK });
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
});
const out = {};
let page;
try {
  // mfa
  let ctx = await browser.createBrowserContext();
  page = await ctx.newPage();
  let callbacks = [];
  page.on('request', (r) => { if (r.url().startsWith(CALLBACK)) callbacks.push(r.url()); });
  out.button = await viaProvider(page, MFA_USER, true);
  await page.waitForFunction(() => document.querySelector('#page') && document.querySelector('#page').dataset.route === '#/dashboard');
  const m = await me(page);
  out.mfa = { hash: await page.evaluate(() => location.hash), status: m.status, name: m.body && m.body.name };
  const cookies = await page.cookies();
  out.mfa.cookie = cookies.some((c) => c.name === '__Host-warden_session' && c.httpOnly);
  check(callbacks.length === 1, 'one callback: ' + callbacks);
  const used = callbacks[0];
  await ctx.close();

  // replay and forged state
  ctx = await browser.createBrowserContext();
  page = await ctx.newPage();
  await page.goto(used, { waitUntil: 'networkidle0' });
  out.replay = { hash: await page.evaluate(() => location.hash), error: await errorText(page), me: (await me(page)).status };
  const forged = CALLBACK + '?code=forged&state=' + 'f'.repeat(64);
  await page.goto(forged, { waitUntil: 'networkidle0' });
  out.forged = { error: await errorText(page), me: (await me(page)).status };
  await ctx.close();

  // totp
  ctx = await browser.createBrowserContext();
  page = await ctx.newPage();
  await viaProvider(page, TOTP_USER, false);
  await page.waitForSelector(visible('#code-form'));
  out.totp = { code_form: true, hash_cleaned: await page.evaluate(() => location.hash) };
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(TOTP_SECRET), digits: 6, period: 30 });
  // The enrolment used the code of its 30-second step; a code of that step again is a replay.
  while (Math.floor(Date.now() / 30000) <= Math.floor(Number(TOTP_USED_AT) / 30)) await new Promise((ok) => setTimeout(ok, 500));
  await page.type('#code', totp.generate());
  await page.click('#code-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#page') && document.querySelector('#page').dataset.route === '#/dashboard');
  const t = await me(page);
  out.totp.status = t.status;
  out.totp.name = t.body && t.body.name;
  await ctx.close();

  // unknown
  ctx = await browser.createBrowserContext();
  page = await ctx.newPage();
  await viaProvider(page, 'mallory', true);
  out.unknown = { error: await errorText(page), me: (await me(page)).status, hash: await page.evaluate(() => location.hash) };
  await axe(page, 'oidc-login-refused');
  await ctx.close();
} catch (e) {
  const where = page ? await page.evaluate(() => location.href + '\n' + document.body.innerText).catch(() => '') : '';
  console.error('failed at:', where);
  throw e;
} finally {
  await browser.close();
  idp.close();
}
console.log(JSON.stringify(out));
