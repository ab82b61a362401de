// What changed between two revisions, by section: added and removed lines marked (`<ins>`,
// `<del>`), unchanged sections folded with their text as of the later revision, the
// questions raised, settled and reworded, and the front matter's changed keys.

import { get } from '../api.js';
import { h, hashLink, trustedHtml } from '../dom.js';
import { sectionName, shortCommit } from '../format.js';
import { classify, questionsOf, revisionsOf } from '../history.js';
import { postNav, questionChangeList, revisionByline } from '../parts.js';
import { linkPostsHere } from './revision.js';
import { compareForm } from './timeline.js';

export async function diffView({ params: [slug], query }) {
  const [diff, revisions, questions] = await Promise.all([
    get(`/posts/${slug}/diff`, { from: query.get('from'), to: query.get('to') }),
    revisionsOf(slug),
    questionsOf(slug),
  ]);
  const later = await get(`/posts/${slug}/revisions/${diff.to}`);
  const byCommit = new Map(revisions.map((revision) => [revision.commit, revision]));
  const laterSections = sectionsByKey(later.sections);
  const questionChange = questionChangeList(classify(diff.open_questions, questions));
  return {
    title: `Changes to ${later.title}`,
    nodes: [
      h('p', { class: 'kicker' }, 'Changes'),
      h('h1', {}, later.title),
      postNav(slug, query.has('from') || query.has('to') ? null : 'diff'),
      h(
        'div',
        { class: 'endpoints' },
        endpoint('From', diff.from, byCommit, slug),
        endpoint('To', diff.to, byCommit, slug),
      ),
      compareForm(slug, revisions, { from: diff.from, to: diff.to }),
      questionChange
        ? h('section', { class: 'diff-questions', 'aria-labelledby': 'rv-diff-questions' }, h('h2', { id: 'rv-diff-questions' }, 'Open questions'), questionChange)
        : null,
      frontMatterChanges(diff.front_matter),
      h('h2', {}, 'Sections'),
      diff.sections.map((section) => sectionDiff(section, laterSections, later.links_to)),
      h(
        'details',
        { class: 'whole-file' },
        h('summary', {}, 'The whole file as a unified diff'),
        unifiedLines(diff.unified),
      ),
    ],
  };
}

function endpoint(label, commit, byCommit, slug) {
  if (!commit) {
    return h('div', { class: 'endpoint' }, h('h2', {}, label), h('p', {}, 'Nothing: the post did not exist yet.'));
  }
  const revision = byCommit.get(commit);
  return h(
    'div',
    { class: 'endpoint' },
    h('h2', {}, label, ' ', h('a', { href: hashLink(`/posts/${slug}/at/${commit}`) }, shortCommit(commit))),
    revision ? [h('p', { class: 'message' }, revision.message), revisionByline(revision)] : null,
  );
}

/** A section of the later revision by kind and title, so that two `other` sections differ. */
function sectionsByKey(sections) {
  return new Map(sections.map((section) => [`${section.kind}\u0000${section.title}`, section]));
}

function sectionDiff(section, laterSections, linksTo) {
  const heading = h(
    'h3',
    {},
    section.title || sectionName(section.kind),
    ' ',
    h('span', { class: `badge ${section.status}` }, section.status),
  );
  if (section.status === 'unchanged') {
    const text = laterSections.get(`${section.kind}\u0000${section.title}`);
    const body = text ? trustedHtml('div', 'post-body', text.html) : h('p', {}, 'No text.');
    linkPostsHere(body, linksTo);
    return h(
      'details',
      { class: 'diff-section unchanged', dataset: { kind: section.kind } },
      h('summary', {}, heading),
      body,
    );
  }
  return h(
    'section',
    { class: `diff-section ${section.status}`, dataset: { kind: section.kind } },
    heading,
    unifiedLines(section.unified),
  );
}

/** A unified diff with each line marked: hunk headers, context, `<ins>` and `<del>`. */
function unifiedLines(unified) {
  const lines = unified.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return h(
    'pre',
    { class: 'diff' },
    lines.map((line) => {
      if (line.startsWith('@@')) return h('span', { class: 'hunk' }, line);
      if (line.startsWith('+') && !line.startsWith('+++ ')) return h('ins', {}, line);
      if (line.startsWith('-') && !line.startsWith('--- ')) return h('del', {}, line);
      return h('span', { class: 'context' }, line);
    }),
  );
}

function frontMatterChanges({ added, removed, changed }) {
  const rows = [
    ...Object.entries(added).map(([key, value]) => [key, null, value]),
    ...Object.entries(removed).map(([key, value]) => [key, value, null]),
    ...changed.map(({ key, old, new: value }) => [key, old, value]),
  ];
  if (rows.length === 0) return null;
  const cell = (value) => h('td', {}, value === null || value === undefined ? '—' : h('code', {}, JSON.stringify(value)));
  return h(
    'section',
    { class: 'front-matter-changes', 'aria-labelledby': 'rv-front-matter' },
    h('h2', { id: 'rv-front-matter' }, 'Front matter'),
    h(
      'div',
      { class: 'table-scroll', role: 'group', 'aria-labelledby': 'rv-front-matter' },
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'))),
        h('tbody', {}, rows.map(([key, before, after]) => h('tr', {}, h('th', { scope: 'row' }, key), cell(before), cell(after)))),
      ),
    ),
  );
}
