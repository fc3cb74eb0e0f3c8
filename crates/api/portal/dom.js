// Safe element builders: every piece of data enters the page as a text node or an attribute value,
// never as markup (no innerHTML anywhere in the portal).

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

/** An HTML element: `h('button', {type: 'button', onclick: f}, 'Save')`. */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element (for charts), same conventions as `h`. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.textContent = '';
  add(el, children);
  return el;
}

export const $ = (id) => document.getElementById(id);

/**
 * A data table: `columns` is a list of `{label, cell: (row) => text or Node}`; the first column is
 * the row header (`<th scope="row">`). An empty list shows `empty` in a single row.
 */
export function table(caption, columns, rows, empty = 'Nothing to show.') {
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)));
  const body = rows.length === 0
    ? [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty))]
    : rows.map((r) => h('tr', {}, columns.map((c, i) => h(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : {}, c.cell(r)))));
  return h('table', {}, h('caption', {}, caption), h('thead', {}, head), h('tbody', {}, body));
}

/** A labelled form field; `input` attributes get a generated id. */
let fieldSeq = 0;
export function field(label, attrs = {}, tag = 'input', ...options) {
  const id = attrs.id || 'f' + (++fieldSeq);
  const control = h(tag, { ...attrs, id }, ...options);
  return { wrap: h('div', { class: 'field' }, h('label', { for: id }, label), control), control };
}

/** A `<select>`'s options from values or [value, text] pairs. */
export function options(values, selected) {
  return values.map((v) => {
    const [value, text] = Array.isArray(v) ? v : [v, v];
    return h('option', { value, selected: value === selected }, text);
  });
}

/** Unix seconds as an ISO-like local time. */
export function when(secs) {
  if (secs === undefined || secs === null) return '';
  const d = new Date(secs * 1000);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** A page: its `<h1>` and content, with an id for tests and styling. */
export function page(id, title, ...children) {
  return h('div', { id, class: 'page' }, h('h1', {}, title), ...children);
}

/** The page of something the caller cannot see: its heading, why, and a link back. */
export function notFoundPage(title, text, backHref, backText) {
  return h('div', { id: 'not-found', class: 'page' }, h('h1', {}, title), h('p', {}, text),
    h('p', {}, h('a', { href: backHref }, backText)));
}

/**
 * Puts `fresh` (a page rendered again after a change) in place of `box`, moves the focus to its
 * heading and says `text` in its status line (`p.ok`).
 */
export function swapPage(box, fresh, text) {
  box.replaceWith(fresh);
  const heading = fresh.querySelector('h1');
  heading.tabIndex = -1;
  heading.focus();
  const note = fresh.querySelector('p.ok');
  if (note && text) note.textContent = text;
}

/**
 * Asks before a destructive action in a modal dialog; resolves true when confirmed. The focus goes to
 * Cancel (the safe choice) and returns to where it was.
 */
export function confirmDialog(question, actionLabel) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const finish = (ok) => {
      dialog.close();
      dialog.remove();
      if (opener && opener.focus) opener.focus();
      resolve(ok);
    };
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => finish(false) }, 'Cancel');
    const dialog = h('dialog', { id: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
      h('h2', { id: 'confirm-title' }, 'Are you sure?'),
      h('p', { id: 'confirm-text' }, question),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', id: 'confirm-yes', onclick: () => finish(true) }, actionLabel),
        cancel));
    dialog.addEventListener('cancel', (ev) => { ev.preventDefault(); finish(false); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A button that runs `action` with itself disabled meanwhile. */
export function button(label, action, attrs = {}) {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await action(); } finally { b.disabled = false; }
  });
  return b;
}

/** A message area of a page (`role=status`), and an error area (`role=alert`). */
export function messages() {
  const ok = h('p', { class: 'ok', role: 'status' });
  const bad = h('p', { class: 'error', role: 'alert', hidden: true });
  return {
    nodes: [ok, bad],
    ok: (t) => { ok.textContent = t; bad.hidden = true; },
    bad: (t) => { bad.textContent = t; bad.hidden = !t; ok.textContent = ''; },
  };
}
