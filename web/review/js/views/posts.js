// The posts: a search box (the list's `?q=`), the tags, and each post with its revision
// count, the way into its history.

import { get, token } from '../api.js';
import { h, hashLink } from '../dom.js';
import { time } from '../format.js';
import { pagination } from '../parts.js';

export async function postsView({ query }) {
  const q = query.get('q') || '';
  const tag = query.get('tag') || '';
  const sort = query.get('sort') || '';
  const page = query.get('page') || '';
  const [list, tags] = await Promise.all([
    get('/posts', { q, tag, sort, page, per_page: 20, status: token() ? 'all' : '' }),
    get('/tags'),
  ]);
  const heading = tag ? `Posts tagged “${tag}”` : q ? `Posts matching “${q}”` : 'Posts';
  return {
    title: heading,
    nodes: [
      h('h1', {}, heading),
      searchForm(q, tag, sort),
      tagList(tags.tags, tag),
      h('p', { class: 'count', role: 'status' }, countText(list.meta.total)),
      h('ol', { class: 'post-list' }, list.posts.map(postItem)),
      pagination(list.meta, (n) => hashLink('/', { q, tag, sort, page: n })),
    ],
  };
}

function countText(total) {
  return total === 1 ? '1 post' : `${total} posts`;
}

const ORDERS = [
  ['', 'Newest first'],
  ['-updated', 'Last changed first'],
  ['date', 'Oldest first'],
  ['title', 'By title'],
];

function searchForm(q, tag, sort) {
  const input = h('input', { id: 'rv-search', type: 'search', name: 'q', value: q });
  const order = h(
    'select',
    { id: 'rv-sort', name: 'sort' },
    ORDERS.map(([value, label]) => h('option', { value, selected: value === sort }, label)),
  );
  return h(
    'form',
    {
      role: 'search',
      class: 'search',
      onsubmit: (event) => {
        event.preventDefault();
        location.hash = hashLink('/', { q: input.value.trim(), tag, sort: order.value });
      },
    },
    h('label', { for: 'rv-search' }, 'Search posts'),
    input,
    h('label', { for: 'rv-sort' }, 'Order'),
    order,
    h('button', { type: 'submit' }, 'Search'),
  );
}

function tagList(tags, current) {
  const link = (label, tag) =>
    h('a', { href: hashLink('/', { tag }), 'aria-current': (current || '') === tag ? 'page' : null }, label);
  return h(
    'nav',
    { class: 'tags', 'aria-label': 'Tags' },
    h(
      'ul',
      {},
      h('li', {}, link('All posts', '')),
      tags.map(({ tag, count }) => h('li', {}, link(`${tag} (${count})`, tag))),
    ),
  );
}

function postItem(post) {
  const revisions = post.revision_count === 1 ? '1 revision' : `${post.revision_count} revisions`;
  return h(
    'li',
    { class: 'post-item', dataset: { slug: post.slug, revisions: String(post.revision_count) } },
    h('h2', {}, h('a', { href: hashLink(`/posts/${post.slug}`) }, post.title)),
    h(
      'p',
      { class: 'byline' },
      post.status === 'draft' ? [h('span', { class: 'badge draft' }, 'draft'), ' '] : null,
      'first published ',
      time(post.date || post.created_at),
      ' · last changed ',
      time(post.updated_at),
      ' · ',
      h('span', { class: 'revision-count' }, revisions),
    ),
    post.summary ? h('p', { class: 'summary' }, post.summary) : null,
    post.tags.length
      ? h('ul', { class: 'tag-chips', 'aria-label': 'Tags' }, post.tags.map((t) => h('li', {}, t)))
      : null,
  );
}
