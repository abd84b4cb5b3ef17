// Renders test output with ANSI colours. SGR sequences (ESC [ ... m) become <span>s with
// classes (fg-0..fg-15, bg-0..bg-7, bold); every other escape sequence is dropped. Text is
// inserted as text nodes only.

// ESC [ params intermediates final  |  ESC ] ... (BEL | ESC \)  |  ESC + one character.
const ESCAPE = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?/g;
// Control characters other than tab, shown as nothing.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

function applySgr(state, params) {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) { state.fg = null; state.bg = null; state.bold = false; }
    else if (c === 1) state.bold = true;
    else if (c === 22) state.bold = false;
    else if (c >= 30 && c <= 37) state.fg = c - 30;
    else if (c >= 90 && c <= 97) state.fg = c - 90 + 8;
    else if (c === 39) state.fg = null;
    else if (c >= 40 && c <= 47) state.bg = c - 40;
    else if (c >= 100 && c <= 107) state.bg = c - 100;
    else if (c === 49) state.bg = null;
    else if (c === 38 || c === 48) {
      // 256-colour and true-colour forms: skip their arguments, keep the current colour.
      if (codes[i + 1] === 5) i += 2;
      else if (codes[i + 1] === 2) i += 4;
    }
  }
}

function pushText(parent, text, state) {
  text = text.replace(CONTROL, '');
  if (!text) return;
  const classes = [];
  if (state.fg !== null) classes.push('fg-' + state.fg);
  if (state.bg !== null) classes.push('bg-' + state.bg);
  if (state.bold) classes.push('bold');
  if (classes.length === 0) {
    parent.appendChild(document.createTextNode(text));
  } else {
    const span = document.createElement('span');
    span.className = classes.join(' ');
    span.textContent = text;
    parent.appendChild(span);
  }
}

// Creates a renderer whose colour state carries from one line to the next, as a terminal's.
export function ansiRenderer() {
  const state = {fg: null, bg: null, bold: false};
  return function renderLine(parent, line) {
    let last = 0;
    ESCAPE.lastIndex = 0;
    for (let m = ESCAPE.exec(line); m !== null; m = ESCAPE.exec(line)) {
      pushText(parent, line.slice(last, m.index), state);
      if (m[2] === 'm') applySgr(state, m[1]);
      last = ESCAPE.lastIndex;
      if (m[0].length === 0) ESCAPE.lastIndex++;
    }
    pushText(parent, line.slice(last), state);
  };
}

// Strips every escape sequence: for plain-text uses such as titles.
export function stripAnsi(text) {
  return String(text).replace(ESCAPE, '').replace(CONTROL, '');
}
