// Blame: each section with the revisions that wrote it and the one that last changed it,
// then its lines, each with the revision that last changed it (`GET /posts/{slug}/blame`).

import { get } from '../api.js';
import { h, hashLink } from '../dom.js';
import { authorName, commitCode, sectionName, shortCommit, time } from '../format.js';
import { postNav } from '../parts.js';

export async function blameView({ params: [slug], query }) {
  const rev = query.get('rev') || '';
  const [blame, post] = await Promise.all([
    get(`/posts/${slug}/blame`, { rev }),
    get(rev ? `/posts/${slug}/revisions/${rev}` : `/posts/${slug}`),
  ]);
  const revisions = blame.revisions || {};
  const blocks = sectionBlocks(blame.lines, blame.sections);
  return {
    title: `Blame of ${post.title}`,
    nodes: [
      h('p', { class: 'kicker' }, rev ? `Blame as of ${shortCommit(blame.commit)}` : 'Blame'),
      h('h1', {}, post.title),
      postNav(slug, rev ? null : 'blame'),
      h('p', { class: 'lede' }, 'Which revision last wrote each line, section by section. ', revisionCount(revisions)),
      blocks.map((block, index) => sectionBlame(slug, block, revisions, index)),
    ],
  };
}

function revisionCount(revisions) {
  const n = Object.keys(revisions).length;
  return `${n} ${n === 1 ? 'revision wrote' : 'revisions wrote'} this version.`;
}

/**
 * The lines cut into runs of one section each, every run paired with its entry of
 * `sections` (in order, by kind; the front matter has none).
 */
function sectionBlocks(lines, sections) {
  const blocks = [];
  for (const line of lines) {
    const last = blocks[blocks.length - 1];
    if (last && last.kind === line.section) {
      last.lines.push(line);
    } else {
      blocks.push({ kind: line.section, lines: [line] });
    }
  }
  const unused = [...sections];
  for (const block of blocks) {
    const at = unused.findIndex((section) => section.kind === block.kind);
    block.section = at >= 0 ? unused.splice(at, 1)[0] : null;
  }
  return blocks;
}

function sectionBlame(slug, block, revisions, index) {
  const section = block.section;
  const title = section?.title || sectionName(block.kind);
  const id = `rv-blame-${index}`;
  return h(
    'section',
    { class: 'blame-section', 'aria-labelledby': id, dataset: { kind: block.kind } },
    h('h2', { id }, title),
    section ? writers(slug, section, revisions) : null,
    h(
      'div',
      { class: 'table-scroll', tabindex: '0', role: 'group', 'aria-label': `Lines of ${title}` },
      h(
        'table',
        { class: 'blame' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Revision'), h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Text'))),
        h('tbody', {}, block.lines.map((line, at) => lineRow(slug, line, block.lines[at - 1], revisions))),
      ),
    ),
  );
}

/** The revisions that wrote a section, oldest first, and the one that last changed it. */
function writers(slug, section, revisions) {
  const commits = [...section.commits].sort((a, b) =>
    (revisions[a]?.committed_at || '').localeCompare(revisions[b]?.committed_at || ''),
  );
  const last = section.last_changed;
  return h(
    'div',
    { class: 'writers' },
    last
      ? h('p', { class: 'last-changed' }, 'Last changed by ', revisionLink(slug, last, revisions), lineSummary(revisions[last]))
      : null,
    h('p', {}, commits.length === 1 ? 'Written by one revision:' : `Written by ${commits.length} revisions:`),
    h(
      'ul',
      { class: 'writer-list' },
      commits.map((commit) => h('li', {}, revisionLink(slug, commit, revisions), lineSummary(revisions[commit]))),
    ),
  );
}

function lineSummary(revision) {
  if (!revision) return null;
  return [' · ', time(revision.committed_at), ' · ', authorName(revision.author), ' · ', revision.message];
}

function revisionLink(slug, commit, revisions) {
  const label = revisions[commit] ? `revision ${shortCommit(commit)}` : shortCommit(commit);
  return h('a', { href: hashLink(`/posts/${slug}/diff`, { to: commit }), title: 'What this revision changed' }, label);
}

/** A line, its number, and its revision where the previous line's differs (as `git blame` UIs do). */
function lineRow(slug, line, previous, revisions) {
  const first = !previous || previous.commit !== line.commit;
  const revision = revisions[line.commit];
  return h(
    'tr',
    { class: first ? 'run-start' : null },
    h(
      'td',
      { class: 'blame-commit' },
      first
        ? [
            h('a', { href: hashLink(`/posts/${slug}/at/${line.commit}`) }, commitCode(line.commit)),
            revision ? [' ', h('span', { class: 'blame-date' }, revision.committed_at.slice(0, 10))] : null,
          ]
        : h('span', { class: 'visually-hidden' }, shortCommit(line.commit)),
    ),
    h('td', { class: 'line-number' }, String(line.number)),
    h('td', { class: 'line-text' }, h('code', {}, line.text)),
  );
}
