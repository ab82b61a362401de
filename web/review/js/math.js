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
}
