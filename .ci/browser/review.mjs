// The review page in a real browser (Debian's chromium through playwright-core), against a
// live server on the sample blog: the posts, the timeline of the post with the most
// revisions, the diff of a revision that settled a question, blame, a deep link, the post
// with math typeset, the questions, the token field, phone width and the dark scheme; axe
// on every view (no serious or critical violations); no console error or refused request
// (the Content-Security-Policy is strict). A screenshot of each step goes to the folder given.
//
// Usage: node review.mjs BASE_URL TOKEN SCREENSHOT_DIR
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import AxeBuilder from '@axe-core/playwright';

import { launchChromium } from './launch.js';

const [base, token, shots] = process.argv.slice(2);
if (!base || !token || !shots) {
  console.error('usage: node review.mjs BASE_URL TOKEN SCREENSHOT_DIR');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const page_url = (hash) => `${base}/review/${hash}`;

// Blame and the questions (SPEC 5.5) are checked when the server documents them; a server
// built without one still serves every other view, and this says which steps it skipped.
const { paths } = await (await fetch(`${base}/openapi.json`)).json();
const documented = {
  blame: '/api/v1/posts/{slug}/blame' in paths,
  questions: '/api/v1/questions' in paths,
};
const undocumentedEndpoint = (url) => {
  const path = new URL(url).pathname;
  return (
    (!documented.questions && path === '/api/v1/questions') ||
    (!documented.blame && /^\/api\/v1\/posts\/[^/]+\/blame$/.test(path))
  );
};

const results = [];
let skipped = 0;
async function step(name, run, { needs } = {}) {
  if (needs && !documented[needs]) {
    skipped += 1;
    console.log(`skip - ${name} (the server documents no ${needs} endpoint)`);
    return;
  }
  try {
    await run();
    results.push([name, true]);
    console.log(`ok - ${name}`);
  } catch (error) {
    results.push([name, false]);
    console.log(`not ok - ${name}\n  ${String(error.stack || error).replaceAll('\n', '\n  ')}`);
  }
}

/** Fails on what the reviewer would not see but the page would suffer: errors and refusals. */
function watch(page, problems) {
  page.on('console', (message) => {
    // A refused load is reported below with its address; the console repeats it without.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    // A post's figures come from `/assets/` (another part of the API), not from this page.
    const figure = new URL(response.url()).pathname.startsWith('/assets/');
    if (response.status() >= 400 && !figure && !undocumentedEndpoint(response.url())) {
      problems.push(`${response.status()} ${response.url()}`);
    }
  });
  page.on('requestfailed', (request) => problems.push(`failed ${request.url()}`));
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function axe(page, view) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    serious.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `axe on ${view}`,
  );
}

/** Waits for a view to be shown (not loading), failing with the page's own error if it shows one. */
async function shown(page, selector) {
  await page.locator(`${selector}, .problem`).first().waitFor();
  await page.locator('#rv-main:not([aria-busy])').waitFor();
  if (await page.locator('.problem').count()) {
    throw new Error(`the page shows an error: ${await page.locator('.problem').innerText()}`);
  }
}

const browser = await launchChromium();
const problems = [];
const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
const page = await context.newPage();
watch(page, problems);

let slug;
let settledQuestion;
let diffHash;

await step('the posts list shows every post with its revision count', async () => {
  await page.goto(page_url(''));
  await shown(page, '.post-item');
  const counts = await page.locator('.post-item').evaluateAll((items) =>
    items.map((item) => [item.dataset.slug, Number(item.dataset.revisions)]),
  );
  assert.ok(counts.length >= 2, 'several posts');
  counts.sort((a, b) => b[1] - a[1]);
  slug = counts[0][0];
  await shot(page, '01-posts');
  await axe(page, 'the posts');
});

await step('the search box filters the posts through the list’s ?q=', async () => {
  await page.fill('#rv-search', 'KV cache');
  await page.press('#rv-search', 'Enter');
  await page.waitForURL(/#\/\?q=KV/);
  await shown(page, '.count');
  const slugs = await page.locator('.post-item').evaluateAll((items) => items.map((i) => i.dataset.slug));
  assert.ok(slugs.includes('kv-cache'), `kv-cache among ${slugs}`);
  await page.goBack();
  await shown(page, '.post-item');
});

await step('the order select lists the posts by their last change', async () => {
  await page.selectOption('#rv-sort', '-updated');
  await page.click('.search button[type="submit"]');
  await page.waitForURL(/sort=-updated/);
  await shown(page, '.post-item');
  const times = await page.locator('.post-item .byline time:last-of-type').evaluateAll((t) => t.map((e) => e.dateTime));
  assert.ok(times.length >= 2);
  assert.deepEqual(times, [...times].sort().reverse());
  await page.goBack();
  await shown(page, '.post-item');
});

await step('the post with the most revisions shows its timeline', async () => {
  const expected = Number(await page.locator(`.post-item[data-slug="${slug}"]`).getAttribute('data-revisions'));
  await page.locator(`.post-item[data-slug="${slug}"] h2 a`).click();
  await shown(page, '.timeline .revision');
  assert.equal(await page.locator('.timeline .revision').count(), expected);
  const focused = await page.evaluate(() => document.activeElement.tagName);
  assert.equal(focused, 'H1', 'focus moves to the new view’s heading');
  const first = page.locator('.timeline .revision').first();
  assert.match(await first.locator('.byline').innerText(), /\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC · .+ · [0-9a-f]{7}/);
  assert.ok((await first.locator('.section-chips li').count()) > 0, 'sections changed are listed');
  await shot(page, '02-timeline');
  await axe(page, 'the timeline');
});

await step('the diff of a revision that settled a question marks it', async () => {
  const settling = page.locator('.timeline .revision', { has: page.locator('.questions-settled li') }).first();
  assert.equal(await settling.count(), 1, 'a revision in the timeline settled a question');
  settledQuestion = (await settling.locator('.questions-settled li').first().textContent()).trim();
  await settling.getByRole('link', { name: 'What changed' }).click();
  await shown(page, '.diff-section');
  diffHash = new URL(page.url()).hash;
  assert.match(diffHash, new RegExp(`^#/posts/${slug}/diff\\?from=[0-9a-f]{40}&to=[0-9a-f]{40}$`));
  const settled = await page.locator('.diff-questions .questions-settled li').allTextContents();
  assert.ok(settled.some((text) => text.trim() === settledQuestion), 'the diff lists the settled question');
  const removed = await page.locator('.diff-section[data-kind="open_questions"] del').allTextContents();
  assert.ok(removed.some((line) => line.includes(settledQuestion.slice(0, 30))), 'its line is marked removed');
  const unchanged = page.locator('details.diff-section.unchanged');
  assert.ok((await unchanged.count()) > 0, 'unchanged sections are folded');
  assert.equal(await unchanged.first().getAttribute('open'), null, 'folded until opened');
  assert.ok((await page.locator('.diff-section:not(.unchanged) ins').count()) > 0, 'added lines are marked');
  await shot(page, '03-diff');
  await axe(page, 'the diff');
  await unchanged.first().locator('summary').click();
  assert.equal(await unchanged.first().getAttribute('open'), '', 'a folded section opens');
});

await step('the back button returns to the timeline', async () => {
  await page.goBack();
  await shown(page, '.timeline .revision');
  assert.equal(new URL(page.url()).hash, `#/posts/${slug}`);
});

await step('the blame view shows each section with the revisions that wrote it', async () => {
  await page.locator('.post-nav').getByRole('link', { name: 'Blame' }).click();
  await shown(page, '.blame-section');
  const kinds = await page.locator('.blame-section').evaluateAll((s) => s.map((e) => e.dataset.kind));
  for (const kind of ['question', 'background', 'exploration', 'takeaways', 'open_questions']) {
    assert.ok(kinds.includes(kind), `a ${kind} section in ${kinds}`);
  }
  const exploration = page.locator('.blame-section[data-kind="exploration"]');
  assert.ok((await exploration.locator('.writer-list li').count()) >= 2, 'exploration was written by several revisions');
  assert.ok((await exploration.locator('table.blame tbody tr').count()) > 0, 'its lines');
  await shot(page, '04-blame');
  await axe(page, 'blame');
}, { needs: 'blame' });

await step('a deep link to a diff opens it in a fresh tab', async () => {
  const tab = await context.newPage();
  watch(tab, problems);
  await tab.goto(page_url(diffHash));
  await shown(tab, '.diff-section');
  const params = new URLSearchParams(diffHash.split('?')[1]);
  assert.equal(await tab.locator('#rv-compare-from').inputValue(), params.get('from'));
  assert.equal(await tab.locator('#rv-compare-to').inputValue(), params.get('to'));
  const settled = await tab.locator('.diff-questions .questions-settled li').allTextContents();
  assert.ok(settled.some((text) => text.trim() === settledQuestion));
  await shot(tab, '05-deep-link');
  await tab.close();
});

await step('the post as of a revision has its math typeset', async () => {
  const params = new URLSearchParams(diffHash.split('?')[1]);
  await page.goto(page_url(`#/posts/${slug}/at/${params.get('from')}`));
  await shown(page, '.post-body');
  assert.ok((await page.locator('.post-body .katex').count()) > 0, 'KaTeX rendered');
  assert.equal(await page.locator('.post-body .katex-error').count(), 0, 'no TeX errors');
  assert.match(await page.locator('.as-of').innerText(), /later revision exists/);
  await shot(page, '06-revision');
  await axe(page, 'a revision');
});

await step('a table’s column alignment, the one inline style a post keeps, passes the CSP', async () => {
  const { posts } = await (await fetch(`${base}/api/v1/posts?per_page=100`)).json();
  let aligned;
  for (const { slug: candidate } of posts) {
    const post = await (await fetch(`${base}/api/v1/posts/${candidate}`)).json();
    if (post.html.includes('style="text-align: right"')) aligned = candidate;
  }
  assert.ok(aligned, 'a sample post has a right-aligned table column');
  await page.goto(page_url(`#/posts/${aligned}/at/latest`));
  await shown(page, '.post-body');
  const alignments = await page
    .locator('.post-body td[style]')
    .evaluateAll((cells) => cells.map((cell) => [cell.style.textAlign, getComputedStyle(cell).textAlign]));
  assert.ok(alignments.length > 0);
  for (const [declared, computed] of alignments) assert.equal(computed, declared);
});

await step('the blog’s questions show open and settled ones with dates', async () => {
  await page.locator('[data-nav="questions"]').click();
  await shown(page, '.question-list');
  assert.ok((await page.locator('.question[data-state="open"]').count()) > 0, 'open questions');
  const settled = page.locator('.question[data-state="settled"]');
  assert.ok((await settled.count()) > 0, 'settled questions');
  assert.match(await settled.first().locator('.question-dates').innerText(), /Raised[\s\S]*\d{4}-\d{2}-\d{2}[\s\S]*Settled[\s\S]*\d{4}-\d{2}-\d{2}/);
  await shot(page, '07-questions');
  await axe(page, 'the questions');
  await page.locator('.state-filter').getByRole('link', { name: 'Settled' }).click();
  await shown(page, '.count');
  const states = await page.locator('.question').evaluateAll((q) => q.map((e) => e.dataset.state));
  assert.ok(states.length > 0 && states.every((s) => s === 'settled'), `only settled: ${states}`);
}, { needs: 'questions' });

await step('the token field shows drafts', async () => {
  const draft = `review-check-draft-${Date.now()}`;
  const response = await fetch(`${base}/api/v1/posts`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      slug: draft,
      front_matter: { title: `A draft only authors see (${draft})`, status: 'draft' },
      markdown: '## Question\n\nStill thinking.\n',
      message: 'A draft for the review page check',
    }),
  });
  assert.equal(response.status, 201, await response.text());
  await page.goto(page_url(`#/?q=${draft}`));
  await shown(page, '.count');
  assert.equal(await page.locator(`.post-item[data-slug="${draft}"]`).count(), 0, 'hidden without a token');
  await page.locator('.token summary').click();
  await page.fill('#rv-token-input', token);
  await page.press('#rv-token-input', 'Enter');
  await page.locator(`.post-item[data-slug="${draft}"] .badge.draft`).waitFor();
  assert.equal(await page.evaluate(() => Object.keys(sessionStorage).length), 1, 'kept in sessionStorage');
  await page.click('#rv-token-forget');
  await page.locator(`.post-item[data-slug="${draft}"]`).waitFor({ state: 'detached' });
});

await step('the keyboard reaches the skip link first, and it leads to the content', async () => {
  const tab = await context.newPage();
  watch(tab, problems);
  await tab.goto(page_url(`#/posts/${slug}`));
  await shown(tab, '.timeline');
  await tab.keyboard.press('Tab');
  assert.equal(await tab.evaluate(() => document.activeElement.id), 'rv-skip');
  await tab.keyboard.press('Enter');
  assert.equal(await tab.evaluate(() => document.activeElement.id), 'rv-main');
  assert.equal(new URL(tab.url()).hash, `#/posts/${slug}`, 'the route stays');
  await tab.keyboard.press('Tab');
  const next = await tab.evaluate(() => document.activeElement.textContent);
  assert.equal(next, 'Timeline', 'the next stop is the first link of the content');
  await tab.close();
});

await step('at phone width and in the dark scheme the page fits and passes axe', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  const tab = await phone.newPage();
  watch(tab, problems);
  for (const [hash, selector, name, needs] of [
    [`#/posts/${slug}`, '.timeline', '08-phone-dark-timeline'],
    [diffHash, '.diff-section', '09-phone-dark-diff'],
    [`#/posts/${slug}/blame`, '.blame-section', '10-phone-dark-blame', 'blame'],
    [`#/posts/${slug}/at/latest`, '.post-body', '11-phone-dark-post'],
    ['#/questions', '.question-list', '12-phone-dark-questions', 'questions'],
  ]) {
    if (needs && !documented[needs]) continue;
    await tab.goto(page_url(hash));
    await shown(tab, selector);
    const overflow = await tab.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name}: no sideways scrolling (${overflow}px too wide)`);
    await shot(tab, name);
    await axe(tab, name);
  }
  await phone.close();
});

await step('no console error, refused request or failed load on any view', async () => {
  assert.deepEqual([...new Set(problems)], []);
});

await browser.close();
const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
