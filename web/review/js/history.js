// A post's history as the review page tells it: every revision, and which open questions
// each one raised, settled or reworded.

import { get, getAll } from './api.js';

/** All of a post's revisions, newest first (`GET /posts/{slug}/revisions`, every page). */
export function revisionsOf(slug) {
  return getAll(`/posts/${slug}/revisions`, 'revisions');
}

/**
 * The post's questions from `GET /questions?post=`, which know rewordings; null when the
 * server has no such endpoint, so that a diff's added and removed questions stand alone.
 */
export async function questionsOf(slug) {
  try {
    return await getAll('/questions', 'questions', { post: slug });
  } catch (problem) {
    if (problem.status === 404) return null;
    throw problem;
  }
}

/**
 * Splits a diff's `open_questions {added, removed}` into questions raised, settled, and
 * reworded (removed while another wording of the same question was added: the questions
 * endpoint lists the earlier wordings of each question under `reworded_from`).
 */
export function classify(openQuestions, questions) {
  const raised = [...openQuestions.added];
  const settled = [...openQuestions.removed];
  const reworded = [];
  for (const question of questions || []) {
    const wordings = new Set([question.text, ...(question.reworded_from || [])]);
    const before = settled.findIndex((text) => wordings.has(text));
    const after = raised.findIndex((text) => wordings.has(text));
    if (before >= 0 && after >= 0) {
      reworded.push({ from: settled[before], to: raised[after] });
      settled.splice(before, 1);
      raised.splice(after, 1);
    }
  }
  return { raised, settled, reworded };
}

/**
 * Commit → what the revision did to the open questions, for the revisions that changed the
 * Open Questions section (only those can raise or settle one): one diff each, a few at once.
 */
export async function questionChanges(slug, revisions, questions) {
  const touching = revisions.filter(
    (revision) => revision.change !== 'deleted' && revision.sections_changed.includes('open_questions'),
  );
  const changes = new Map();
  const queue = [...touching];
  const worker = async () => {
    for (let revision = queue.shift(); revision; revision = queue.shift()) {
      const diff = await get(`/posts/${slug}/diff`, { to: revision.commit });
      changes.set(revision.commit, classify(diff.open_questions, questions));
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return changes;
}
