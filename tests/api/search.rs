//! `GET /api/v1/search`: ranking, stemming, phrases, snippets, drafts, filters, pushes and
//! past versions.

use serde_json::{Value, json};

use crate::concurrency::push_edit;
use crate::helpers::{
    TestApp, assert_problem, post, sample_posts, seed_repo, spawn_app, spawn_app_on, spawn_app_with,
};

fn body(question: &str, background: &str, takeaways: &str) -> String {
    format!(
        "## Question\n\n{question}\n\n## Background\n\n{background}\n\n## Exploration\n\nNothing yet.\n\n## Takeaways\n\n{takeaways}\n\n## Open Questions\n\n- None.\n"
    )
}

fn file(title: &str, status: &str, tags: &str, markdown: &str) -> String {
    format!("---\ntitle: \"{title}\"\ntags: {tags}\nstatus: {status}\n---\n\n{markdown}")
}

async fn search(app: &TestApp, query: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/search?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn slugs(body: &Value) -> Vec<&str> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect()
}

fn result<'a>(body: &'a Value, slug: &str) -> &'a Value {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} not in {body}"))
}

#[tokio::test]
async fn search_stems_words_ranks_title_matches_first_and_marks_the_best_section() {
    let app = spawn_app_with(vec![
        (
            "normalization",
            file(
                "Normalization layers",
                "published",
                "[norms]",
                &body("Where do they go?", "Some history.", "Put them first."),
            ),
        ),
        (
            "residuals",
            file(
                "Residual streams",
                "published",
                "[residual]",
                &body(
                    "How deep can it be?",
                    "Plain text.",
                    "Without normalizing the stream, deep stacks diverge.",
                ),
            ),
        ),
        (
            "unrelated",
            file(
                "Tokenizers",
                "published",
                "[tokens]",
                &body("Bytes?", "BPE.", "Merges."),
            ),
        ),
    ])
    .await;

    let found = search(&app, "q=normalize").await;
    assert_eq!(slugs(&found), ["normalization", "residuals"], "{found}");
    assert_eq!(found["meta"]["total"], 2);
    let residuals = result(&found, "residuals");
    assert_eq!(residuals["section"], "takeaways");
    assert_eq!(
        residuals["snippet"],
        "Without <mark>normalizing</mark> the stream, deep stacks diverge."
    );
    assert_eq!(residuals["title"], "Residual streams");
    assert_eq!(residuals["current"], true);
    let (post, _) = app.read_post("residuals").await;
    assert_eq!(residuals["commit"], post["revision"]["commit"]);
    assert!(residuals["score"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_phrase_matches_only_its_words_in_order() {
    let app = spawn_app_with(vec![
        (
            "in-order",
            file(
                "One",
                "published",
                "[a]",
                &body("Is pre layer norm stable?", "x", "y"),
            ),
        ),
        (
            "scattered",
            file(
                "Two",
                "published",
                "[a]",
                &body("Is the norm of a layer pre-set?", "x", "y"),
            ),
        ),
    ])
    .await;
    let words = search(&app, "q=pre%20layer%20norm").await;
    assert_eq!(words["meta"]["total"], 2);
    let phrase = search(&app, "q=%22pre%20layer%20norm%22").await;
    assert_eq!(slugs(&phrase), ["in-order"]);
    assert_eq!(
        phrase["results"][0]["snippet"],
        "Is <mark>pre</mark> <mark>layer</mark> <mark>norm</mark> stable?"
    );
}

#[tokio::test]
async fn drafts_are_found_only_with_a_token() {
    let app = spawn_app().await;
    // "routing" is in the draft moe-routing only.
    let anonymous = search(&app, "q=routing").await;
    assert_eq!(anonymous["meta"]["total"], 0, "{anonymous}");
    let authors: Value = app
        .get_as_author("/api/v1/search?q=routing")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(slugs(&authors), ["moe-routing"]);
}

#[tokio::test]
async fn every_tag_named_must_be_on_the_post_and_pages_cut_the_results() {
    let app = spawn_app().await;
    let both = search(&app, "q=takeaway&tag=transformers&tag=normalization").await;
    assert_eq!(slugs(&both), ["layernorm-vs-rmsnorm"]);
    let one = search(&app, "q=takeaway&tag=transformers").await;
    assert_eq!(one["meta"]["total"], 2);
    let first = search(&app, "q=takeaway&per_page=1").await;
    let second = search(&app, "q=takeaway&per_page=1&page=2").await;
    assert_eq!(first["meta"]["pages"], 2);
    assert_eq!(first["results"].as_array().unwrap().len(), 1);
    assert_ne!(slugs(&first), slugs(&second));
    let past = search(&app, "q=takeaway&page=3&per_page=1&utm_source=x").await;
    assert_eq!(past["results"], json!([]));
}

#[tokio::test]
async fn snippets_escape_the_posts_text() {
    let app = spawn_app_with(vec![(
        "markup",
        file(
            "Markup",
            "published",
            "[html]",
            &body("Why does `<script>` & attention matter?", "x", "y"),
        ),
    )])
    .await;
    let found = search(&app, "q=attention").await;
    assert_eq!(
        found["results"][0]["snippet"],
        "Why does &lt;script&gt; &amp; <mark>attention</mark> matter?"
    );
}

#[tokio::test]
async fn a_post_written_through_the_api_or_pushed_with_git_is_soon_searchable() {
    let app = spawn_app().await;
    let created = app
        .create_post(&json!({
            "slug": "fresh",
            "front_matter": {"title": "Fresh"},
            "markdown": "## Question\n\nWhat is a zygomorphic tokenizer?\n",
        }))
        .await;
    assert_eq!(created.status(), 201);
    app.eventually("/api/v1/search?q=zygomorphic", |b| b["meta"]["total"] == 1)
        .await;

    push_edit(
        &app,
        "attention-scaling",
        "A takeaway.",
        "A quixotic takeaway.",
    );
    let found = app
        .eventually("/api/v1/search?q=quixotic", |b| b["meta"]["total"] == 1)
        .await;
    assert_eq!(slugs(&found), ["attention-scaling"]);
    assert_eq!(found["results"][0]["section"], "takeaways");
}

#[tokio::test]
async fn history_search_finds_what_a_post_used_to_say_at_the_earliest_revision_saying_it() {
    let app = spawn_app().await;
    let path = "posts/attention-scaling.md";
    let old = |takeaway: &str| {
        post(
            "Why divide by sqrt(d_k)?",
            "2026-09-01",
            "[transformers, attention]",
            "published",
            &format!("Background.\n\n{takeaway}"),
            "- Does it matter with QK-norm?",
        )
    };
    let first = app.commit_outside(
        "believe in temperature",
        &[(path, Some(&old("Softmax temperature explains it.")))],
    );
    app.commit_outside(
        "still believe it",
        &[(path, Some(&old("Softmax temperature explains it. Really.")))],
    );
    app.commit_outside(
        "stop believing it",
        &[(path, Some(&old("Variance explains it.")))],
    );
    app.eventually("/api/v1/search?q=variance", |b| b["meta"]["total"] == 1)
        .await;

    let now = search(&app, "q=temperature").await;
    assert_eq!(now["meta"]["total"], 0);
    assert_eq!(now["meta"]["history_searched"], false);
    let past = app
        .eventually("/api/v1/search?q=temperature&history=true", |b| {
            b["meta"]["history_searched"] == true
        })
        .await;
    assert_eq!(slugs(&past), ["attention-scaling"], "{past}");
    let hit = &past["results"][0];
    assert_eq!(hit["commit"], first);
    assert_eq!(hit["current"], false);
    assert_eq!(hit["section"], "background");
    assert!(
        hit["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>temperature</mark>")
    );

    // A post matching as it is now is a current result, history or not.
    let both = search(&app, "q=variance&history=true").await;
    assert_eq!(result(&both, "attention-scaling")["current"], true);
}

#[tokio::test]
async fn a_drafts_past_versions_stay_hidden_from_anonymous_history_searches() {
    let app = spawn_app().await;
    let path = "posts/layernorm-vs-rmsnorm.md";
    let version = |status: &str, background: &str| {
        post(
            "LayerNorm versus RMSNorm",
            "2026-10-01",
            "[transformers]",
            status,
            background,
            "- Q?",
        )
    };
    app.commit_outside(
        "said it",
        &[(
            path,
            Some(&version("published", "Recentering is essential.")),
        )],
    );
    app.commit_outside("unpublish", &[(path, Some(&version("draft", "Not sure.")))]);
    let authors = app
        .eventually("/api/v1/search?q=recentering&history=true", |b| {
            b["meta"]["history_searched"] == true && b["meta"]["total"] == 1
        })
        .await;
    assert_eq!(authors["results"][0]["current"], false);
    let anonymous = search(&app, "q=recentering&history=true").await;
    assert_eq!(anonymous["meta"]["history_searched"], true);
    assert_eq!(anonymous["meta"]["total"], 0, "{anonymous}");
}

#[tokio::test]
async fn bad_searches_are_problems() {
    let app = spawn_app().await;
    let long = "a".repeat(501);
    for query in [
        String::new(),
        "q=".to_string(),
        "q=%20%20".to_string(),
        format!("q={long}"),
        "q=x&history=yes".to_string(),
        "q=x&page=0".to_string(),
        "q=x&per_page=101".to_string(),
        "q=x&per_page=many".to_string(),
    ] {
        let response = app
            .get(&format!("/api/v1/search?{query}"))
            .send()
            .await
            .unwrap();
        assert_problem(response, 400).await;
    }
    // Any text is a query: syntax the engine would reject is read as words.
    for query in ["q=%22unbalanced", "q=title%3A", "q=(((", "q=a%20AND"] {
        search(&app, query).await;
    }
    search(&app, &format!("q={}", "a".repeat(500))).await;
    let response = app
        .get("/api/v1/search?q=x")
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401).await;
}

#[tokio::test]
async fn history_follows_a_renamed_post_and_forgets_a_deleted_one() {
    let app = spawn_app().await;
    let first = app.commit_outside(
        "an aside",
        &[
            (
                "posts/attention-scaling.md",
                Some(&file(
                    "Scaling",
                    "published",
                    "[a]",
                    &body("Why?", "An ocelot aside.", "x"),
                )),
            ),
            (
                "posts/layernorm-vs-rmsnorm.md",
                Some(&file(
                    "Norms",
                    "published",
                    "[a]",
                    &body("Why?", "A narwhal aside.", "x"),
                )),
            ),
        ],
    );
    app.commit_outside(
        "drop the asides",
        &[
            (
                "posts/attention-scaling.md",
                Some(&file(
                    "Scaling",
                    "published",
                    "[a]",
                    &body("Why?", "No aside.", "x"),
                )),
            ),
            ("posts/layernorm-vs-rmsnorm.md", None),
        ],
    );
    app.eventually("/api/v1/posts?status=all", |b| b["meta"]["total"] == 2)
        .await;
    let renamed = app
        .rename_post("attention-scaling", &json!({"new_slug": "why-sqrt-dk"}))
        .await;
    assert_eq!(renamed.status(), 200);

    // The rename reaches the history index after the write answers: wait for the new slug,
    // not just for one hit, or an answer from before the rename would pass.
    let ocelot = app
        .eventually("/api/v1/search?q=ocelot&history=true", |b| {
            b["meta"]["history_searched"] == true
                && b["meta"]["total"] == 1
                && b["results"][0]["slug"] == "why-sqrt-dk"
        })
        .await;
    assert_eq!(slugs(&ocelot), ["why-sqrt-dk"]);
    assert_eq!(ocelot["results"][0]["commit"], first);
    let narwhal = search(&app, "q=narwhal&history=true").await;
    assert_eq!(narwhal["meta"]["total"], 0, "a deleted post: {narwhal}");
}

#[tokio::test]
async fn a_search_index_that_is_damaged_or_of_another_format_is_built_again() {
    for damage in ["current/meta.json", "FORMAT"] {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), &sample_posts());
        let folder = repo.join("palimpsest/search");
        std::fs::create_dir_all(folder.join("current")).unwrap();
        std::fs::write(folder.join("FORMAT"), palimpsest::search::FORMAT).unwrap();
        std::fs::write(folder.join("left-by-format-0"), "").unwrap();
        std::fs::write(folder.join(damage), "palimpsest search index, format 0\n").unwrap();
        let app = spawn_app_on(dir, repo).await;
        let found = search(&app, "q=rmsnorm").await;
        assert_eq!(slugs(&found), ["layernorm-vs-rmsnorm"], "{damage}");
        let meta = std::fs::read(folder.join("current/meta.json")).unwrap();
        assert!(serde_json::from_slice::<Value>(&meta).is_ok(), "{damage}");
        let format = std::fs::read_to_string(folder.join("FORMAT")).unwrap();
        assert_eq!(format, palimpsest::search::FORMAT);
        let cleared = !folder.join("left-by-format-0").exists();
        assert_eq!(
            cleared,
            damage == "FORMAT",
            "only another format clears the folder"
        );
    }
}
