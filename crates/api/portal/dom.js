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
