// The review page's reading of a diff's open questions (web/review/js/history.js), in node:
// which questions a change raised, settled, or only reworded.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { classify } from '../../web/review/js/history.js';

const diff = (added, removed) => ({ added, removed });

test('without the questions endpoint, added questions are raised and removed ones settled', () => {
  assert.deepEqual(classify(diff(['New?'], ['Old?']), null), {
    raised: ['New?'],
    settled: ['Old?'],
    reworded: [],
  });
});

test('a question removed while another wording of it is added is reworded, not settled', () => {
  const questions = [
    { text: 'Does QK-norm make the scaling irrelevant?', reworded_from: ['Does QK-norm matter?'] },
    { text: 'Where does the Jacobian peak?', reworded_from: [] },
  ];
  const change = classify(
    diff(['Does QK-norm make the scaling irrelevant?', 'Is RoPE involved?'], ['Does QK-norm matter?', 'Where does the Jacobian peak?']),
    questions,
  );
  assert.deepEqual(change, {
    raised: ['Is RoPE involved?'],
    settled: ['Where does the Jacobian peak?'],
    reworded: [{ from: 'Does QK-norm matter?', to: 'Does QK-norm make the scaling irrelevant?' }],
  });
});

test('an earlier rewording of the same question counts as well', () => {
  const questions = [{ text: 'Third wording?', reworded_from: ['First wording?', 'Second wording?'] }];
  const change = classify(diff(['Second wording?'], ['First wording?']), questions);
  assert.deepEqual(change.reworded, [{ from: 'First wording?', to: 'Second wording?' }]);
  assert.deepEqual([change.raised, change.settled], [[], []]);
});

test('the diff it reads is left as it was', () => {
  const openQuestions = diff(['A?'], ['B?']);
  classify(openQuestions, [{ text: 'A?', reworded_from: ['B?'] }]);
  assert.deepEqual(openQuestions, diff(['A?'], ['B?']));
});
