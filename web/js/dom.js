// DOM helpers. Every piece of data reaches the page through text nodes and attribute setters:
// nothing here ever assigns HTML source, so a test name or an output line is always shown as
// the literal text it is.

const SVG_NS = 'http://www.w3.org/2000/svg';

function applyAttrs(el, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (key === 'style' && typeof value === 'object') {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, v);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

// Creates an HTML element: h('a', {href: '/x', class: 'link'}, 'text', childNode, [more]).
// Strings and numbers become text nodes; null, undefined and false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

// Creates an SVG element, with the same conventions as h().
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

// Replaces every child of `el` with `children`.
export function replace(el, ...children) {
  el.textContent = '';
  append(el, children);
  return el;
}

// An inline SVG icon from a fixed set of path strings (constants, never data).
const ICONS = {
  play: 'M5 3.5v9l8-4.5z',
  sun: 'M8 4.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7zM8 0v2.5M8 13.5V16M0 8h2.5M13.5 8H16M2.3 2.3l1.8 1.8M11.9 11.9l1.8 1.8M2.3 13.7l1.8-1.8M11.9 4.1l1.8-1.8',
  moon: 'M13.5 10.5A6 6 0 0 1 5.5 2.5a6 6 0 1 0 8 8z',
  download: 'M8 1.5v9M4.5 7 8 10.5 11.5 7M2 13.5h12',
  stop: 'M4 4h8v8H4z',
  retry: 'M13 8a5 5 0 1 1-1.5-3.6M13 2v3h-3',
  clock: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM8 4.5V8l2.5 1.5',
};

export function icon(name, label) {
  const filled = name === 'play' || name === 'stop' || name === 'moon';
  return s('svg', {class: 'icon', viewBox: '0 0 16 16', width: 14, height: 14,
                   'aria-hidden': label ? null : 'true', role: label ? 'img' : null,
                   'aria-label': label || null},
    s('path', {d: ICONS[name], fill: filled ? 'currentColor' : 'none',
               stroke: filled ? 'none' : 'currentColor', 'stroke-width': 1.5,
               'stroke-linecap': 'round', 'stroke-linejoin': 'round'}));
}
