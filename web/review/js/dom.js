// Building the page's elements. Text from the API always goes in as text nodes, never as
// markup; the one exception, a post's server-sanitised `html`, goes through `trustedHtml`.

/**
 * An element: `h('a', {href: '#/'}, 'Posts')`. Attributes whose value is null, undefined or
 * false are left out; `true` sets an empty attribute. Children are nodes, strings (as
 * text), or arrays of them; null and false are skipped.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(element, child);
    } else if (child instanceof Node) {
      element.append(child);
    } else {
      element.append(document.createTextNode(String(child)));
    }
  }
}

/** The server's `html` field, which it sanitised (no scripts, styles or handlers). */
export function trustedHtml(tag, className, html) {
  const element = document.createElement(tag);
  element.className = className;
  element.innerHTML = html;
  return element;
}

/** Replaces everything in `container` with `children`. */
export function replace(container, ...children) {
  container.replaceChildren();
  append(container, children);
}

/** A link to one of the page's routes: `hashLink('/questions', {state: 'open'})`. */
export function hashLink(path, parameters = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== null && value !== undefined && value !== '') query.set(name, value);
  }
  const text = query.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}
