// Hash routes (`#/sims`, `#/sims/<imsi>`, …) and the page registry. A page is
// `{ name, title, nav, allowed(me), render(params, me) → Promise<Node> }` (`params`: the path's
// segments after the name, and `params.query`: the URLSearchParams after `?`); the router checks the
// session (/me), renders into the page area, moves the focus to the page's first heading and shows
// the navigation the caller's role may use. The server decides what a role may do; hiding links is
// only convenience.
import { h, $, replace } from './dom.js';
import { call, session, fail, say } from './api.js';

const pages = new Map();
const order = [];
let seq = 0;

/** Adds a page. */
export function register(page) {
  pages.set(page.name, page);
  order.push(page.name);
}

/** Role helpers for `allowed`. */
export const roles = {
  any: () => true,
  operator: (me) => me.role === 'operator_admin',
  admin: (me) => me.role === 'operator_admin' || me.role === 'tenant_admin',
  changer: (me) => me.role !== 'tenant_viewer',
};

/** Shows one of the static sections (login, enrolment, recovery) or the page area. */
export function show(section) {
  for (const id of ['login', 'enrolment', 'recovery', 'page']) $(id).hidden = id !== section;
  $('account').hidden = section !== 'page';
  $('nav').hidden = section !== 'page';
}

/** Goes to `hash` (re-rendering when it is already there). */
export function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function renderNav(me, current) {
  const items = order.map((n) => pages.get(n)).filter((p) => p.nav && p.allowed(me));
  replace($('nav-list'), items.map((p) => h('li', {},
    h('a', { href: '#/' + p.name, 'aria-current': p.name === current ? 'page' : null }, p.nav))));
}

async function whoAmI() {
  if (session.me) return session.me;
  const r = await call('GET', '/me');
  if (r.status !== 200) return null;
  session.me = r.data;
  if (r.data.csrf_token) session.csrf = r.data.csrf_token;
  return session.me;
}

function notFound(text) {
  return h('div', { id: 'not-found' }, h('h1', {}, 'Not found'), h('p', {}, text));
}

/** Renders the page of the current hash. */
export async function route() {
  const mine = ++seq;
  fail('');
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
  params.query = new URLSearchParams(query || '');
  const me = name === 'login' && !session.csrf ? null : await whoAmI();
  if (mine !== seq) return;
  if (!me) {
    show('login');
    if (name !== 'login') history.replaceState(null, '', '#/login');
    $('username').focus();
    return;
  }
  if (!name || name === 'login') return go('#/dashboard');
  const who = me.name.replace(/^session:/, '');
  $('who').textContent = who + ' (' + me.role + (me.tenant ? ', ' + me.tenant : '') + ')';
  renderNav(me, name);
  show('page');
  const page = pages.get(name);
  let node;
  if (!page) node = notFound('There is no page ' + location.hash + '.');
  else if (!page.allowed(me)) node = notFound('Your role cannot use this page.');
  else {
    say('Loading…');
    try {
      node = await page.render(params, me);
    } catch (e) {
      node = h('div', {}, h('h1', {}, page.title), h('p', { class: 'error', role: 'alert' }, e.message));
    }
    say('');
  }
  if (mine !== seq) return;
  document.title = (page && page.title ? page.title + ' – ' : '') + 'Warden';
  replace($('page'), node);
  $('page').dataset.route = location.hash; // what is shown (for tests and styling)
  const heading = $('page').querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}
