// The post as of one revision (or the latest), math typeset, with the way to the revisions
// before and after it.

import { get } from '../api.js';
import { h, hashLink, trustedHtml } from '../dom.js';
import { shortCommit } from '../format.js';
import { revisionsOf } from '../history.js';
import { postNav, revisionByline } from '../parts.js';

export async function revisionView({ params: [slug, rev] }) {
  const latest = rev === 'latest';
  const [post, revisions] = await Promise.all([
    get(latest ? `/posts/${slug}` : `/posts/${slug}/revisions/${rev}`),
    revisionsOf(slug),
  ]);
  const at = post.revision.commit;
  const index = revisions.findIndex((revision) => revision.commit === at);
  const newer = index > 0 ? revisions[index - 1] : null;
  const older = index >= 0 ? revisions[index + 1] : null;
  const body = trustedHtml('div', 'post-body', post.html);
  linkPostsHere(body, post.links_to);
  return {
    title: `${post.title} as of ${shortCommit(at)}`,
    nodes: [
      h('p', { class: 'kicker' }, latest || !newer ? 'Latest version' : `As of revision ${shortCommit(at)}`),
      h('h1', {}, post.title),
      postNav(slug, latest ? 'latest' : null),
      h(
        'aside',
        { class: 'as-of', 'aria-label': 'This version' },
        h('p', { class: 'message' }, post.revision.message),
        revisionByline({ ...post.revision }),
        newer ? h('p', { class: 'notice' }, 'A later revision exists; this is how the post read then.') : null,
        h(
          'p',
          { class: 'actions' },
          older ? h('a', { href: hashLink(`/posts/${slug}/at/${older.commit}`) }, '← Older revision') : null,
          newer ? h('a', { href: hashLink(`/posts/${slug}/at/${newer.commit}`) }, 'Newer revision →') : null,
          older ? h('a', { href: hashLink(`/posts/${slug}/diff`, { from: older.commit, to: at }) }, 'What this revision changed') : null,
          h('a', { href: hashLink(`/posts/${slug}/blame`, { rev: at }) }, 'Blame'),
        ),
      ),
      post.warnings.length
        ? h('div', { class: 'warnings' }, h('h2', {}, 'Structure warnings'), h('ul', {}, post.warnings.map((w) => h('li', {}, w))))
        : null,
      post.summary ? h('p', { class: 'summary' }, post.summary) : null,
      h('article', { class: 'post', 'aria-label': post.title }, body),
    ],
  };
}

/**
 * Links to other posts (the API lists their slugs in `links_to`, whatever URL it wrote) lead
 * to their timelines here, since the page has no other way to show a post.
 */
export function linkPostsHere(body, linksTo) {
  const slugs = new Set(linksTo || []);
  for (const anchor of body.querySelectorAll('a[href]')) {
    const href = anchor.getAttribute('href');
    if (href.startsWith('#')) continue;
    const last = href.split(/[?#]/)[0].split('/').filter(Boolean).pop();
    if (slugs.has(last)) anchor.setAttribute('href', hashLink(`/posts/${last}`));
  }
}
