// Math typeset with the vendored KaTeX. The API marks math in a post's html as
// `<span class="math math-inline">` and `math-display` holding the TeX source; question texts
// are plain text with `$…$`, which KaTeX's auto-render finds. `katex.render` builds DOM nodes
// (no inline markup), which is what the page's Content-Security-Policy allows.

const OPTIONS = { throwOnError: false, output: 'htmlAndMathml' };

/** Typesets every math span of the server's html inside `element`. */
export function typesetHtml(element) {
  const katex = globalThis.katex;
  if (!katex) return;
  for (const span of element.querySelectorAll('.math-inline, .math-display')) {
    const displayMode = span.classList.contains('math-display');
    katex.render(span.textContent, span, { ...OPTIONS, displayMode });
  }
  markWideMath(element);
}

/** Typesets `$…$` and `$$…$$` in plain text inside `element`. */
export function typesetText(element) {
  const render = globalThis.renderMathInElement;
  if (!render) return;
  render(element, {
    ...OPTIONS,
    delimiters: [
      { left: '$$', right: '$$', display: true },
      { left: '$', right: '$', display: false },
    ],
  });
  markWideMath(element);
}

/** A formula wider than the screen scrolls; a keyboard must be able to reach it to scroll. */
function markWideMath(element) {
  for (const display of element.querySelectorAll('.katex-display')) {
    if (display.scrollWidth > display.clientWidth) {
      display.tabIndex = 0;
      display.setAttribute('role', 'group');
      display.setAttribute('aria-label', 'formula (scrolls sideways)');
    }
  }
}
