// A post's timeline: every revision, newest first, with its author, time, message, the
// sections it changed and the questions it raised, settled or reworded; and a form to
// compare any two revisions.

import { get } from '../api.js';
import { h, hashLink } from '../dom.js';
import { sectionName, shortCommit } from '../format.js';
import { questionChanges, questionsOf, revisionsOf } from '../history.js';
import { postNav, questionChangeList, revisionByline } from '../parts.js';

export async function timelineView({ params: [slug] }) {
  const [post, revisions, questions] = await Promise.all([
    get(`/posts/${slug}`),
    revisionsOf(slug),
    questionsOf(slug),
  ]);
  const changes = await questionChanges(slug, revisions, questions);
  return {
    title: `Timeline of ${post.title}`,
    nodes: [
      h('p', { class: 'kicker' }, 'Timeline'),
      h('h1', {}, post.title),
      postNav(slug, 'timeline'),
      h('p', { class: 'lede' }, timelineSummary(revisions, changes)),
      compareForm(slug, revisions, {}),
      h(
        'ol',
        { class: 'timeline', reversed: true },
        revisions.map((revision, index) => revisionItem(slug, revision, revisions[index + 1], changes)),
      ),
    ],
  };
}

function timelineSummary(revisions, changes) {
  const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  let raised = 0;
  let settled = 0;
  for (const change of changes.values()) {
    raised += change.raised.length;
    settled += change.settled.length;
  }
  return `${count(revisions.length, 'revision', 'revisions')}; ${count(raised, 'question', 'questions')} raised and ${settled} settled over them.`;
}

function revisionItem(slug, revision, previous, changes) {
  const at = revision.commit;
  const change = changes.get(at);
  return h(
    'li',
    { class: `revision change-${revision.change}`, dataset: { commit: at } },
    h('h2', {}, h('a', { href: hashLink(`/posts/${slug}/at/${at}`) }, revision.message || '(no message)')),
    revisionByline(revision),
    h(
      'p',
      { class: 'stats' },
      h('span', { class: `badge ${revision.change}` }, revision.change),
      revision.previous_path ? ` from ${revision.previous_path}` : null,
      ' ',
      h('span', { class: 'additions' }, `+${revision.additions}`),
      ' ',
      h('span', { class: 'deletions' }, `−${revision.deletions}`),
      h('span', { class: 'visually-hidden' }, ` (${revision.additions} lines added, ${revision.deletions} removed)`),
    ),
    revision.sections_changed.length
      ? h(
          'div',
          { class: 'sections-changed' },
          h('span', {}, 'Sections changed: '),
          h('ul', { class: 'section-chips' }, revision.sections_changed.map((kind) => h('li', {}, sectionName(kind)))),
        )
      : null,
    questionChangeList(change),
    h(
      'p',
      { class: 'actions' },
      h('a', { href: hashLink(`/posts/${slug}/at/${at}`) }, 'Read this version'),
      previous
        ? h('a', { href: hashLink(`/posts/${slug}/diff`, { from: previous.commit, to: at }) }, 'What changed')
        : null,
      h('a', { href: hashLink(`/posts/${slug}/blame`, { rev: at }) }, 'Blame at this revision'),
    ),
  );
}

/** Two revisions to compare, oldest-first choices, defaulting to the last change. */
export function compareForm(slug, revisions, { from, to }) {
  const options = (selected) =>
    revisions.map((revision) =>
      h(
        'option',
        { value: revision.commit, selected: revision.commit === selected },
        `${shortCommit(revision.commit)} · ${revision.committed_at.slice(0, 10)} · ${revision.message}`,
      ),
    );
  const fromSelect = h('select', { id: 'rv-compare-from', name: 'from' }, options(from || revisions[1]?.commit));
  const toSelect = h('select', { id: 'rv-compare-to', name: 'to' }, options(to || revisions[0]?.commit));
  return h(
    'form',
    {
      class: 'compare',
      onsubmit: (event) => {
        event.preventDefault();
        location.hash = hashLink(`/posts/${slug}/diff`, { from: fromSelect.value, to: toSelect.value });
      },
    },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Compare two revisions'),
      h('label', { for: 'rv-compare-from' }, 'From'),
      fromSelect,
      h('label', { for: 'rv-compare-to' }, 'To'),
      toSelect,
      h('button', { type: 'submit' }, 'Show changes'),
    ),
  );
}
