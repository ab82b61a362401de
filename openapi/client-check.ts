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
