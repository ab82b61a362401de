// Pieces several views share: a post's own navigation, page links, question changes, and a
// revision's one-line description.

import { h, hashLink } from './dom.js';
import { authorName, commitCode, time } from './format.js';

/** Links between the views of one post; `current` is the one shown. */
export function postNav(slug, current) {
  const item = (key, label, href) =>
    h('li', {}, h('a', { href, 'aria-current': key === current ? 'page' : null }, label));
  return h(
    'nav',
    { class: 'post-nav', 'aria-label': 'This post' },
    h(
      'ul',
      {},
      item('timeline', 'Timeline', hashLink(`/posts/${slug}`)),
      item('latest', 'Latest version', hashLink(`/posts/${slug}/at/latest`)),
      item('diff', 'Latest change', hashLink(`/posts/${slug}/diff`)),
      item('blame', 'Blame', hashLink(`/posts/${slug}/blame`)),
      item('questions', 'Its questions', hashLink('/questions', { post: slug })),
    ),
  );
}

/** "Page 2 of 5" with links to the pages around it; nothing for a single page. */
export function pagination(meta, linkTo) {
  if (!meta || meta.pages <= 1) return null;
  const previous = meta.page > 1 ? h('a', { href: linkTo(meta.page - 1), rel: 'prev' }, 'Previous page') : null;
  const next = meta.page < meta.pages ? h('a', { href: linkTo(meta.page + 1), rel: 'next' }, 'Next page') : null;
  return h(
    'nav',
    { class: 'pagination', 'aria-label': 'Pages' },
    previous,
    h('span', {}, `Page ${meta.page} of ${meta.pages}`),
    next,
  );
}

/** Who made a revision, when, and its commit: `2026-10-12 19:00 UTC · Mira Okafor · 7dbe6eb`. */
export function revisionByline(revision) {
  return h(
    'p',
    { class: 'byline' },
    time(revision.committed_at),
    ' · ',
    authorName(revision.author),
    ' · ',
    commitCode(revision.commit),
  );
}

/**
 * The questions a change raised, settled and reworded (see `history.classify`), as labelled
 * lists; null when it touched none. Question texts are typeset (`tex-text`).
 */
export function questionChangeList(change) {
  if (!change) return null;
  const groups = [];
  const group = (kind, label, items) => {
    if (items.length === 0) return;
    groups.push(
      h(
        'div',
        { class: `questions-${kind}` },
        h('h3', {}, label),
        h('ul', {}, items.map((item) => h('li', { class: 'tex-text' }, item))),
      ),
    );
  };
  group('raised', 'Questions raised', change.raised);
  group('settled', 'Questions settled', change.settled);
  group(
    'reworded',
    'Questions reworded',
    change.reworded.map(({ from, to }) => [h('del', {}, from), ' → ', h('ins', {}, to)]),
  );
  return groups.length ? h('div', { class: 'question-changes' }, groups) : null;
}
