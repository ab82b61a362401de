// End-to-end check of a frontend on another origin: a static page served from one port
// of 127.0.0.1 reads the API on another port in Debian's chromium (CORS), shows the sample
// post with its figure loaded and its math, and saves a change with If-Match; a page on
// an origin not in --cors-origins reads but cannot write.
//
//   node .ci/browser/frontend.mjs <palimpsest binary> <repository made from content-repo/>
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium } from './launch.js';

const [binary, repo] = process.argv.slice(2);
if (!binary || !repo) {
  console.error('usage: node frontend.mjs <palimpsest binary> <repository>');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const token = `frontend-check-${process.pid}-${Date.now()}`;
const SAMPLE = 'attention-scaling';

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** The KaTeX files the page loads from /katex/: the copy the review page vendors. */
const KATEX = path.join(here, '..', '..', 'web', 'review', 'vendor', 'katex-0.19.1');
const KATEX_TYPES = { '.css': 'text/css', '.js': 'text/javascript', '.woff2': 'font/woff2' };

/** Serves frontend/index.html (and KaTeX) on a port of its own: another origin than the API's. */
async function serveStaticPage() {
  const page = await readFile(path.join(here, 'frontend', 'index.html'));
  const server = http.createServer(async (request, response) => {
    const { pathname } = new URL(request.url, 'http://localhost');
    if (pathname.startsWith('/katex/')) {
      const file = path.join(KATEX, path.normalize(pathname.slice('/katex/'.length)));
      try {
        if (!file.startsWith(KATEX + path.sep)) throw new Error('outside KaTeX');
        const type = KATEX_TYPES[path.extname(file)] ?? 'application/octet-stream';
        const bytes = await readFile(file);
        response.writeHead(200, { 'Content-Type': type });
        response.end(bytes);
      } catch {
        response.writeHead(404).end();
      }
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(page);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

async function waitUntilReady(base, child) {
  for (let i = 0; i < 200; i += 1) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode})`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the server did not become ready');
}

const editor = await serveStaticPage();
const stranger = await serveStaticPage();
const apiPort = await freePort();
const api = `http://127.0.0.1:${apiPort}`;
const server = spawn(binary, [
  'serve', '--repo', repo, '--listen', `127.0.0.1:${apiPort}`,
  '--cors-origins', editor.origin, '--public-url', api,
], {
  env: { ...process.env, PALIMPSEST_TOKEN: token, PALIMPSEST_AUTHOR: 'Frontend <frontend@localhost>', RUST_LOG: 'warn' },
  stdio: ['ignore', 'ignore', 'inherit'],
});

let browser;
let failed = false;
try {
  await waitUntilReady(api, server);
  browser = await launchChromium();
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${editor.origin}/?api=${encodeURIComponent(api)}`);
  await page.waitForSelector('body[data-ready="yes"]');

  const listed = await page.evaluate(() => window.page.listPosts());
  check(listed >= 5, `the page on ${editor.origin} lists the ${listed} posts of ${api}`);
  check(await page.locator(`#posts li[data-slug="${SAMPLE}"]`).count() === 1, 'the sample post is listed');

  await page.evaluate((slug) => window.page.showPost(slug), SAMPLE);
  const figure = page.locator('#post img').first();
  await figure.waitFor();
  const src = await figure.getAttribute('src');
  check(src === `${api}/assets/softmax-saturation.svg`, `the figure points at the API: ${src}`);
  await page.waitForFunction(() => {
    const img = document.querySelector('#post img');
    return img && img.complete;
  });
  const width = await figure.evaluate((img) => img.naturalWidth);
  check(width > 0, `the figure loaded (naturalWidth ${width})`);
  // The math is typeset: every math span holds KaTeX's rendering (its visible HTML and the
  // MathML for screen readers), none is left as TeX source, and no `$` delimiter shows.
  const math = await page.locator('#post .math-display').count();
  const inline = await page.locator('#post .math-inline').count();
  const typeset = await page.evaluate(() => {
    const spans = [...document.querySelectorAll('#post .math-inline, #post .math-display')];
    const done = spans.filter((span) => span.querySelector('.katex .katex-html .mord')
      && span.querySelector('.katex .katex-mathml math'));
    const displays = document.querySelectorAll('#post .math-display .katex-display').length;
    const visible = [...document.querySelectorAll('#post')].map((article) => {
      const copy = article.cloneNode(true);
      copy.querySelectorAll('.katex-mathml, pre, code').forEach((hidden) => hidden.remove());
      return copy.textContent;
    })[0];
    const softmax = document.querySelector('#post .math-inline .katex-mathml annotation')?.textContent;
    return { spans: spans.length, done: done.length, displays, dollars: visible.includes('$'), softmax };
  });
  check(math > 0 && inline > 0 && typeset.done === math + inline && typeset.displays === math,
    `the math is typeset by KaTeX (${math} display, ${inline} inline, ${typeset.done} rendered)`);
  check(!typeset.dollars && (typeset.softmax ?? '').includes('softmax'),
    `no TeX delimiters are left in the text, the first formula is ${typeset.softmax}`);
  const etag = await page.locator('#post').getAttribute('data-etag');
  check(Boolean(etag), `the ETag header is readable across origins: ${etag}`);

  const summary = `Saved from another origin at ${new Date().toISOString()}`;
  const saved = await page.evaluate(
    ([slug, key, text]) => window.page.saveSummary(slug, key, text),
    [SAMPLE, token, summary],
  );
  check(/^[0-9a-f]{40}$/.test(saved.commit), `the change was saved as commit ${saved.commit}`);
  const after = await (await fetch(`${api}/api/v1/posts/${SAMPLE}`)).json();
  check(after.summary === summary && after.revision.commit === saved.commit, 'the API serves the saved summary');

  // A stale If-Match is refused, and the refusal is readable by the page.
  const stale = await page.evaluate(async ([base, slug, key, oldTag]) => {
    const response = await fetch(`${base}/api/v1/posts/${slug}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'If-Match': oldTag },
      body: JSON.stringify({ front_matter: { summary: 'stale' } }),
    });
    return response.status;
  }, [api, SAMPLE, token, etag]);
  check(stale === 412, `a save based on the old ETag is refused (${stale})`);

  // Another origin reads, but cannot write.
  const other = await context.newPage();
  await other.goto(`${stranger.origin}/?api=${encodeURIComponent(api)}`);
  await other.waitForSelector('body[data-ready="yes"]');
  check(await other.evaluate(() => window.page.listPosts()) === listed, `a page on ${stranger.origin} reads too`);
  const refused = await other.evaluate(
    ([slug, key]) => window.page.saveSummary(slug, key, 'from a stranger').then(() => 'saved', (error) => error.name),
    [SAMPLE, token],
  );
  check(refused === 'TypeError', `but its write is blocked by the browser (${refused})`);
  const unchanged = await (await fetch(`${api}/api/v1/posts/${SAMPLE}`)).json();
  check(unchanged.summary === summary, 'and nothing was written');
  check(errors.length === 0, `no errors in the page (${errors.join('; ')})`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
  editor.server.close();
  stranger.server.close();
}
process.exit(failed ? 1 : 0);
