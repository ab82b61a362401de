// The blog's open questions (`GET /questions`): every question any revision raised, open or
// settled, with when it was raised and settled, by what, and its earlier wordings.

import { get, getAll, token } from '../api.js';
import { h, hashLink } from '../dom.js';
import { shortCommit, time } from '../format.js';
import { pagination } from '../parts.js';

const STATES = [
  ['all', 'All'],
  ['open', 'Open'],
  ['settled', 'Settled'],
];

export async function questionsView({ query }) {
  const state = query.get('state') || 'all';
  const post = query.get('post') || '';
  const tag = query.get('tag') || '';
  const page = query.get('page') || '';
  const [list, posts] = await Promise.all([
    get('/questions', { state, post, tag, page, per_page: 50 }),
    getAll('/posts', 'posts', { status: token() ? 'all' : '' }),
  ]);
  const titles = new Map(posts.map((p) => [p.slug, p.title]));
  const scope = post ? ` in “${titles.get(post) || post}”` : tag ? ` tagged “${tag}”` : '';
  const heading = `${STATES.find(([key]) => key === state)?.[1] || 'All'} questions${scope}`;
  return {
    title: heading,
    nodes: [
      h('h1', {}, heading),
      stateFilter(state, post, tag),
      post || tag ? h('p', {}, h('a', { href: hashLink('/questions', { state }) }, 'Questions of every post')) : null,
      h('p', { class: 'count', role: 'status' }, countText(list.meta.total)),
      h('ol', { class: 'question-list' }, list.questions.map((question) => questionItem(question, titles))),
      pagination(list.meta, (n) => hashLink('/questions', { state, post, tag, page: n })),
    ],
  };
}

function countText(total) {
  return total === 1 ? '1 question' : `${total} questions`;
}

function stateFilter(current, post, tag) {
  return h(
    'nav',
    { class: 'state-filter', 'aria-label': 'Question state' },
    h(
      'ul',
      {},
      STATES.map(([state, label]) =>
        h('li', {}, h('a', { href: hashLink('/questions', { state, post, tag }), 'aria-current': state === current ? 'page' : null }, label)),
      ),
    ),
  );
}

function questionItem(question, titles) {
  const { post, raised, settled } = question;
  return h(
    'li',
    { class: `question ${question.state}`, dataset: { state: question.state, post } },
    h('p', { class: 'question-text tex-text' }, question.text),
    h(
      'p',
      { class: 'byline' },
      h('span', { class: `badge ${question.state}` }, question.state),
      ' in ',
      h('a', { href: hashLink(`/posts/${post}`) }, titles.get(post) || post),
    ),
    h(
      'dl',
      { class: 'question-dates' },
      h('dt', {}, 'Raised'),
      h('dd', {}, time(raised.committed_at), ' in ', diffLink(post, raised.commit)),
      settled
        ? [
            h('dt', {}, 'Settled'),
            h('dd', {}, time(settled.committed_at), ' in ', diffLink(post, settled.commit), settled.message ? ` · ${settled.message}` : null),
          ]
        : null,
      question.reworded_from?.length
        ? [
            h('dt', {}, 'Earlier wordings'),
            question.reworded_from.map((text) => h('dd', { class: 'tex-text' }, text)),
          ]
        : null,
    ),
  );
}

function diffLink(post, commit) {
  return h('a', { href: hashLink(`/posts/${post}/diff`, { to: commit }) }, `revision ${shortCommit(commit)}`);
}
