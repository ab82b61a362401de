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
  const ages = agesOf(revisions);
  const blocks = sectionBlocks(blame.lines, blame.sections)
    .filter((block) => block.section || block.lines.some((line) => line.text.trim()))
    .map((block, index) => ({ ...block, id: `rv-blame-${index}` }));
  return {
    title: `Blame of ${post.title}`,
    nodes: [
      h('p', { class: 'kicker' }, rev ? `Blame as of ${shortCommit(blame.commit)}` : 'Blame'),
      h('h1', {}, post.title),
      postNav(slug, rev ? null : 'blame'),
      h('p', { class: 'lede' }, 'Which revision last wrote each line, section by section. ', revisionCount(revisions)),
      overview(slug, blocks, revisions, ages),
      blocks.map((block) => sectionBlame(slug, block, revisions, ages)),
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

/**
 * Each revision's place from oldest (0) to newest (4), so that the lines a recent revision
 * wrote stand out in the gutter.
 */
function agesOf(revisions) {
  const commits = Object.keys(revisions).sort((a, b) =>
    revisions[a].committed_at.localeCompare(revisions[b].committed_at),
  );
  const last = Math.max(commits.length - 1, 1);
  return new Map(commits.map((commit, index) => [commit, Math.round((index / last) * 4)]));
}

function swatch(commit, ages) {
  return h('span', { class: `swatch age-${ages.get(commit) ?? 0}`, 'aria-hidden': 'true' });
}

/** The sections at a glance: when each last changed, and how many revisions wrote it. */
function overview(slug, blocks, revisions, ages) {
  const rows = blocks
    .filter((block) => block.section)
    .map(({ section, id }) => {
      const last = section.last_changed;
      return h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('a', { href: `#${id}` }, section.title || sectionName(section.kind))),
        h('td', {}, last ? [swatch(last, ages), revisionLink(slug, last, revisions), ' ', revisions[last] ? time(revisions[last].committed_at) : null] : '—'),
        h('td', {}, String(section.commits.length)),
      );
    });
  return h(
    'div',
    { class: 'table-scroll', role: 'group', 'aria-labelledby': 'rv-blame-overview' },
    h(
      'table',
      { class: 'blame-overview' },
      h('caption', { id: 'rv-blame-overview' }, 'Sections at a glance'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Section'), h('th', { scope: 'col' }, 'Last changed by'), h('th', { scope: 'col' }, 'Revisions that wrote it'))),
      h('tbody', {}, rows),
    ),
  );
}

function sectionBlame(slug, block, revisions, ages) {
  const { section, id } = block;
  const title = section?.title || sectionName(block.kind);
  return h(
    'section',
    { class: 'blame-section', 'aria-labelledby': id, dataset: { kind: block.kind } },
    h('h2', { id }, title),
    section ? writers(slug, section, revisions, ages) : null,
    h(
      'details',
      { class: 'blame-lines', open: block.kind !== 'front_matter' },
      h('summary', {}, `Its ${block.lines.length} lines, each with the revision that last changed it`),
      h(
        'div',
        { class: 'table-scroll', role: 'group', 'aria-label': `Lines of ${title}` },
        h(
          'table',
          { class: 'blame' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Revision'), h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Text'))),
          h('tbody', {}, block.lines.map((line, at) => lineRow(slug, line, block.lines[at - 1], revisions, ages))),
        ),
      ),
    ),
  );
}

/** The revisions that wrote a section, oldest first, and the one that last changed it. */
function writers(slug, section, revisions, ages) {
  const commits = [...section.commits].sort((a, b) =>
    (revisions[a]?.committed_at || '').localeCompare(revisions[b]?.committed_at || ''),
  );
  const last = section.last_changed;
  return h(
    'div',
    { class: 'writers' },
    last
      ? h('p', { class: 'last-changed' }, 'Last changed by ', swatch(last, ages), revisionLink(slug, last, revisions), lineSummary(revisions[last]))
      : null,
    h('p', {}, commits.length === 1 ? 'Written by one revision:' : `Written by ${commits.length} revisions:`),
    h(
      'ul',
      { class: 'writer-list' },
      commits.map((commit) => h('li', {}, swatch(commit, ages), revisionLink(slug, commit, revisions), lineSummary(revisions[commit]))),
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
function lineRow(slug, line, previous, revisions, ages) {
  const first = !previous || previous.commit !== line.commit;
  const revision = revisions[line.commit];
  return h(
    'tr',
    { class: `age-${ages.get(line.commit) ?? 0}${first ? ' run-start' : ''}` },
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
