// A frontend's view of the API, type-checked in CI (.ci/external-checks) against the client
// types that openapi-typescript generates from openapi.json: if this stops compiling, a
// change broke the clients generated from the document.
import type { components, paths } from "./palimpsest";

type PostList =
  paths["/api/v1/posts"]["get"]["responses"]["200"]["content"]["application/json"];
type Post = components["schemas"]["PostView"];
type Problem = components["schemas"]["Problem"];

export function titles(list: PostList): string[] {
  return list.posts.map((post) => post.title);
}

export function openQuestions(post: Post): string[] {
  const fromSections = post.sections
    .filter((section) => section.kind === "open_questions")
    .map((section) => section.markdown);
  return post.open_questions.length > 0 ? post.open_questions : fromSections;
}

export function describe(problem: Problem): string {
  const fields = (problem.errors ?? []).map((error) => error.field).join(", ");
  return `${problem.status} ${problem.title}: ${problem.detail} ${fields}`.trim();
}

type NewPost = components["schemas"]["NewPost"];
type FrontMatterPatch = components["schemas"]["FrontMatterPatch"];
type AssetList =
  paths["/api/v1/assets"]["get"]["responses"]["200"]["content"]["application/json"];

// `front_matter` is a free-form map: a client reads any key and writes new ones.
export function series(post: Post): string | undefined {
  const value: unknown = post.front_matter["series"];
  return typeof value === "string" ? value : undefined;
}

export function draft(title: string, tags: string[]): NewPost {
  return {
    front_matter: { title, tags, status: "draft", series: "kv-cache" },
    markdown: "## Question\n\nWhy?\n",
  };
}

export function publish(): FrontMatterPatch {
  return { front_matter: { status: "published", reviewed_by: null } };
}

export function figureUrls(list: AssetList): string[] {
  return list.assets
    .filter((asset) => asset.content_type.indexOf("image/") === 0)
    .map((asset) => asset.url);
}
