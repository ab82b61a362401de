// How the API's values read on the page: times, commits, authors, section kinds.

import { h } from './dom.js';

const SECTION_NAMES = {
  front_matter: 'Front matter',
  question: 'Question',
  background: 'Background',
  exploration: 'Exploration',
  takeaways: 'Takeaways',
  open_questions: 'Open Questions',
  other: 'Other',
};

/** The reader's name for a section kind. */
export function sectionName(kind) {
  return SECTION_NAMES[kind] || kind;
}

/** A commit id as a reader scans it: its first seven digits. */
export function shortCommit(commit) {
  return commit ? commit.slice(0, 7) : '';
}

/** An author as the API gives one: `{name, email}`, or already a string. */
export function authorName(author) {
  if (!author) return 'unknown';
  return typeof author === 'string' ? author.replace(/\s*<[^>]*>$/, '') : author.name;
}

/**
 * A `<time>` for an RFC 3339 time or a date, shown in UTC so that every reviewer who sends a
 * link reads the same time: `2026-10-12 19:00 UTC`.
 */
export function time(value) {
  if (!value) return h('span', {}, 'unknown time');
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) return h('time', {}, value);
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value)
    ? value
    : `${parsed.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return h('time', { datetime: value }, text);
}

/** A commit id in code type, its full id in the title. */
export function commitCode(commit) {
  return h('code', { class: 'commit', title: commit }, shortCommit(commit));
}
