// The review page: hash routes (so a reviewer can send a link and the back button works),
// the token field, and the one place that shows a view, its errors and moves focus.
//
// Routes:
//   #/                                 posts (?q=, ?tag=, ?page=)
//   #/questions                        the blog's open questions (?state=, ?post=, ?tag=)
//   #/posts/{slug}                     the post's timeline
//   #/posts/{slug}/at/{commit|latest}  the post as of a revision
//   #/posts/{slug}/diff                a diff (?from=, ?to=)
//   #/posts/{slug}/blame               blame (?rev=)

import { Problem, setToken, token } from './api.js';
import { h, hashLink, replace } from './dom.js';
import { typesetHtml, typesetText } from './math.js';
import { blameView } from './views/blame.js';
import { diffView } from './views/diff.js';
import { postsView } from './views/posts.js';
import { questionsView } from './views/questions.js';
import { revisionView } from './views/revision.js';
import { timelineView } from './views/timeline.js';

const SLUG = '([a-z0-9]+(?:-[a-z0-9]+)*)';
const ROUTES = [
  { pattern: /^\/?$/, view: postsView, nav: 'posts' },
  { pattern: /^\/questions$/, view: questionsView, nav: 'questions' },
  { pattern: new RegExp(`^/posts/${SLUG}$`), view: timelineView },
  { pattern: new RegExp(`^/posts/${SLUG}/at/([0-9a-f]{4,40}|latest)$`), view: revisionView },
  { pattern: new RegExp(`^/posts/${SLUG}/diff$`), view: diffView },
  { pattern: new RegExp(`^/posts/${SLUG}/blame$`), view: blameView },
];

const main = document.getElementById('rv-main');
let shown = 0;

/** Shows the route in the location's hash; `moveFocus` after the reader navigated. */
async function show(moveFocus) {
  const ticket = ++shown;
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(search);
  const route = ROUTES.find(({ pattern }) => pattern.test(path));
  markNav(route?.nav);
  main.setAttribute('aria-busy', 'true');
  let page;
  try {
    if (!route) throw new Problem(404, 'No such page', `The review page has no view at ${path}.`);
    const params = path.match(route.pattern).slice(1);
    page = await route.view({ params, query });
  } catch (error) {
    page = problemPage(error, path);
  }
  if (ticket !== shown) return; // the reader went elsewhere meanwhile
  replace(main, page.nodes);
  document.title = `${page.title} · Palimpsest review`;
  main.querySelectorAll('.post-body').forEach(typesetHtml);
  main.querySelectorAll('.tex-text').forEach(typesetText);
  reachScrollers(main);
  main.removeAttribute('aria-busy');
  if (moveFocus) {
    const heading = main.querySelector('h1');
    heading.tabIndex = -1;
    heading.focus();
    window.scrollTo(0, 0);
  }
}

/**
 * A formula, code block or table wider than the screen scrolls sideways; a keyboard can
 * scroll it only once it can focus it.
 */
function reachScrollers(container) {
  const selector = '.post-body pre, .post-body table, .katex-display, .table-scroll';
  for (const wide of container.querySelectorAll(selector)) {
    if (wide.scrollWidth <= wide.clientWidth || wide.hasAttribute('tabindex')) continue;
    wide.tabIndex = 0;
    if (wide.matches('pre, .katex-display')) {
      wide.setAttribute('role', 'group');
      wide.setAttribute('aria-label', wide.matches('pre') ? 'code (scrolls sideways)' : 'formula (scrolls sideways)');
    }
  }
}

function problemPage(error, path) {
  const problem = error instanceof Problem ? error : new Problem(0, 'The page failed', String(error));
  const hints = {
    401: 'The author token was refused. Forget it, or enter another, under “Author token”.',
    404: path.startsWith('/posts/') && !token() ? 'A draft is visible only with an author token.' : null,
  };
  return {
    title: problem.title,
    nodes: [
      h(
        'div',
        { class: 'problem', role: 'alert' },
        h('h1', {}, problem.title),
        problem.detail ? h('p', {}, problem.detail) : null,
        hints[problem.status] ? h('p', {}, hints[problem.status]) : null,
        h('p', {}, h('a', { href: hashLink('/') }, 'Back to the posts')),
      ),
    ],
  };
}

function markNav(current) {
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === current) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
}

/** Links inside a post (`#fn-1`) are in-page targets, not routes: scroll there instead. */
function followInPageLinks(event) {
  const anchor = event.target.closest('a[href^="#"]');
  if (!anchor) return;
  const href = anchor.getAttribute('href');
  if (href.startsWith('#/')) return;
  event.preventDefault();
  const target = document.getElementById(decodeURIComponent(href.slice(1)));
  if (!target) return;
  if (target !== main && !target.hasAttribute('tabindex')) target.tabIndex = -1;
  target.focus();
  target.scrollIntoView();
}

function setUpToken() {
  const form = document.getElementById('rv-token-form');
  const input = document.getElementById('rv-token-input');
  const state = document.getElementById('rv-token-state');
  const showState = () => {
    state.textContent = token() ? '(in use: drafts shown)' : '(none)';
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    input.value = '';
    showState();
    show(false);
  });
  document.getElementById('rv-token-forget').addEventListener('click', () => {
    setToken('');
    input.value = '';
    showState();
    show(false);
  });
  showState();
}

document.addEventListener('click', followInPageLinks);
window.addEventListener('hashchange', () => show(true));
setUpToken();
show(false);
