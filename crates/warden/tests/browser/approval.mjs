// Step-up and two-person approval in Debian's chromium, against the real server, for
// crates/warden/tests/portal_browser.rs (issue #15, SEC-8, SUB-4). Two operator admins, each in a
// browser context of their own:
// 1. Alice logs in (password + TOTP), then waits until the test has aged her second factor (she
//    writes $SYNC_DIR/ready, the test writes $SYNC_DIR/go).
// 2. On the critical SIM's page she clicks Terminate and confirms: the server asks for a step-up,
//    the portal's dialog appears, a wrong code is refused in the dialog, a recovery code is accepted,
//    the request is retried and answered "sent for approval"; the SIM is still suspended.
// 3. On the Approvals page she tries to approve her own request: refused.
// 4. Bob logs in, sees the request on his Approvals page (axe-core clean), approves it; the SIM page
//    shows it terminated.
// Screenshots go to $SCREENSHOTS. Prints one JSON line of findings; exits non-zero on any failure.
import { readFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import * as OTPAuth from 'otpauth';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const { PORTAL_URL, CHROMIUM, SCREENSHOTS, PASSWORD, ALICE, ALICE_SECRET, ALICE_RECOVERY, BOB, BOB_SECRET, CRITICAL_IMSI, SYNC_DIR } = process.env;

function check(ok, message) {
  if (!ok) throw new Error(message);
}

const visible = (sel) => `${sel}:not([hidden])`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function shot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, name + '.png'), fullPage: true });
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run(document)).violations
    .map((v) => ({ id: v.id, impact: v.impact })));
  const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe-core on ${name}: ${JSON.stringify(bad)}`);
}

async function goTo(page, route) {
  const hash = '#/' + route;
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((h) => document.getElementById('page').dataset.route === h
    && !document.getElementById('page').hidden, {}, hash);
}

/** Password, then the TOTP code of the next period (the enrolment used the current one). */
async function login(page, username, secret) {
  await page.goto(PORTAL_URL + '/', { waitUntil: 'networkidle0' });
  await page.waitForSelector(visible('#login'));
  await page.type('#username', username);
  await page.type('#password', PASSWORD);
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector(visible('#code-form'));
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
  await page.type('#code', totp.generate({ timestamp: Date.now() + 30000 }));
  await page.click('#code-form button[type=submit]');
  await page.waitForSelector('#dashboard', { visible: true });
}

async function newPage(browser) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.setViewport({ width: 1280, height: 800 });
  return page;
}

async function simStatus(page) {
  await goTo(page, `sims/${CRITICAL_IMSI}`);
  return page.$eval('#page', (p) => {
    const row = [...p.querySelectorAll('dt, th')].find((e) => e.textContent.trim() === 'Status');
    return row ? row.nextElementSibling.textContent.trim() : '';
  });
}

mkdirSync(SCREENSHOTS, { recursive: true });
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
});
const out = {};
try {
  // 1. Alice, whose second factor the test then makes older than five minutes.
  const alice = await newPage(browser);
  await login(alice, ALICE, ALICE_SECRET);
  writeFileSync(path.join(SYNC_DIR, 'ready'), '');
  for (let i = 0; !existsSync(path.join(SYNC_DIR, 'go')); i++) {
    check(i < 300, 'the test did not age the factor in time');
    await sleep(100);
  }

  // 2. Terminate: confirmation, then the step-up dialog (a wrong code, then a recovery code).
  out.before = await simStatus(alice);
  await alice.click('#act-terminate');
  await alice.waitForSelector('dialog#confirm[open]');
  await alice.click('#confirm-yes');
  await alice.waitForSelector('dialog#step-up[open]');
  out.step_up_dialog = await alice.$eval('#step-up-title', (e) => e.textContent);
  await shot(alice, 'step-up-dialog');
  await axe(alice, 'the step-up dialog');
  await alice.type('#step-up-code', '000000');
  await alice.click('dialog#step-up button[type=submit]');
  await alice.waitForSelector('dialog#step-up [role=alert]:not([hidden])');
  out.wrong_code = await alice.$eval('dialog#step-up [role=alert]', (e) => e.textContent);
  await alice.type('#step-up-code', ALICE_RECOVERY);
  await alice.click('dialog#step-up button[type=submit]');
  await alice.waitForFunction(() => !document.querySelector('dialog#step-up'));
  await alice.waitForFunction(() => /Sent for approval/.test(document.getElementById('page').textContent));
  out.requested = await alice.$eval('#page p.ok', (e) => e.textContent);
  await shot(alice, 'sent-for-approval');
  out.after_request = await simStatus(alice);

  // 3. Her own request: she may not approve it.
  await goTo(alice, 'approvals?status=pending');
  await alice.waitForSelector('#page button[data-id]');
  await alice.click('#page button[data-id]');
  await alice.waitForSelector('#page p.error:not([hidden])');
  out.own_approval = await alice.$eval('#page p.error', (e) => e.textContent);

  // 4. Bob approves.
  const bob = await newPage(browser);
  await login(bob, BOB, BOB_SECRET);
  await goTo(bob, 'approvals?status=pending');
  await bob.waitForSelector('#page button[data-id]');
  out.pending_seen_by_bob = await bob.$$eval('#page tbody tr', (rows) => rows.map((r) => r.textContent.replace(/\s+/g, ' ').trim()));
  await shot(bob, 'approvals-pending');
  await axe(bob, 'the approvals page');
  await bob.click('#page button[data-id]');
  await bob.waitForFunction(() => document.getElementById('page').dataset.route === '#/approvals?status=approved');
  await bob.waitForFunction(() => document.querySelectorAll('#page tbody tr').length > 0);
  out.approved_rows = await bob.$$eval('#page tbody tr', (rows) => rows.map((r) => r.textContent.replace(/\s+/g, ' ').trim()));
  out.final = await simStatus(bob);
  await shot(bob, 'terminated-after-approval');
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`approval browser test failed: ${e.message}\nfindings so far: ${JSON.stringify(out)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
