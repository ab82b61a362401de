// The public JSON API, as any frontend reads it, with the reviewer's token when one is set.

const API = '/api/v1';
const TOKEN_KEY = 'palimpsest-review-token';

/** The author token kept for this tab, or the empty string. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

/** An error answer of the API (RFC 9457 problem details), or a failed connection. */
export class Problem extends Error {
  constructor(status, title, detail) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

/**
 * GET `API + path` with `parameters` as the query (empty values left out).
 * @throws {Problem} for an error answer or when the server cannot be reached.
 */
export async function get(path, parameters = {}) {
  const url = new URL(API + path, location.origin);
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, value);
  }
  const headers = { Accept: 'application/json' };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  let response;
  try {
    response = await fetch(url, { headers });
  } catch (error) {
    throw new Problem(0, 'The server cannot be reached', error.message);
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Problem(response.status, body.title || response.statusText, body.detail || '');
  }
  return response.json();
}

/** Every page of a paginated list: the items under `key`, in order. */
export async function getAll(path, key, parameters = {}) {
  const items = [];
  for (let page = 1; ; page += 1) {
    const body = await get(path, { ...parameters, page, per_page: 100 });
    items.push(...body[key]);
    if (page >= body.meta.pages) return items;
  }
}
