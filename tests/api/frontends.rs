//! What a frontend on another origin needs from a post: links it can follow, figures it
//! can load, previews, and forgiving queries (old URLs: `old_slugs.rs`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, post, sample_posts, spawn_app, spawn_app_configured,
};

const FIGURE: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>"#;

/// A post whose body refers to a figure and to another post in every written form.
fn linking_post() -> String {
    post(
        "Links",
        "2026-11-20",
        "[frontends]",
        "published",
        "![fig](/assets/fig.svg) ![rel](assets/fig.svg) ![up](../assets/fig.svg) \
         [a](attention-scaling) [b](/posts/attention-scaling#takeaways) [c](attention-scaling.md) \
         ![gone](/assets/missing.png) [nowhere](no-such-post) [out](https://example.org/x)",
        "- none",
    )
}

async fn app_for_a_frontend() -> TestApp {
    let mut posts = sample_posts();
    posts.push(("links", linking_post()));
    let app = spawn_app_configured(posts, |settings| {
        settings.public_url = Some("https://api.example.org".into());
        settings.post_url = "https://blog.example.org/p/{slug}/".into();
    })
    .await;
    app.commit_outside("Add a figure", &[("assets/fig.svg", Some(FIGURE))]);
    app.eventually("/api/v1/assets", |body| body["meta"]["total"] == 1)
        .await;
    app
}

/// What `palimpsest check` prints about the app's repository.
fn check(app: &TestApp) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_palimpsest"))
        .args(["check", "--repo", app.repo.to_str().unwrap()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn links_and_figures_in_html_point_where_the_frontend_says() {
    let app = app_for_a_frontend().await;
    let (post, _) = app.read_post("links").await;
    let html = post["html"].as_str().unwrap();
    assert_eq!(
        html.matches(r#"src="https://api.example.org/assets/fig.svg""#)
            .count(),
        3,
        "{html}"
    );
    assert_eq!(
        html.matches(r#"href="https://blog.example.org/p/attention-scaling/""#)
            .count(),
        2,
        "{html}"
    );
    assert!(html.contains(r#"href="https://blog.example.org/p/attention-scaling/#takeaways""#));
    assert!(html.contains(r#"href="https://example.org/x""#));
    let sections = serde_json::to_string(&post["sections"]).unwrap();
    assert!(sections.contains("https://api.example.org/assets/fig.svg"));
}

#[tokio::test]
async fn by_default_links_go_to_posts_slug_and_figures_to_the_servers_root() {
    let mut posts = sample_posts();
    posts.push(("links", linking_post()));
    let app = crate::helpers::spawn_app_with(posts).await;
    let (post, _) = app.read_post("links").await;
    let html = post["html"].as_str().unwrap();
    assert_eq!(
        html.matches(r#"src="/assets/fig.svg""#).count(),
        3,
        "{html}"
    );
    assert!(
        html.contains(r#"href="/posts/attention-scaling""#),
        "{html}"
    );
}

#[tokio::test]
async fn a_post_warns_of_figures_and_posts_that_do_not_exist() {
    let app = app_for_a_frontend().await;
    let (post, _) = app.read_post("links").await;
    let warnings = serde_json::to_string(&post["warnings"]).unwrap();
    assert!(warnings.contains("assets/missing.png"), "{warnings}");
    assert!(warnings.contains("no-such-post"), "{warnings}");
    assert!(!warnings.contains("fig.svg"), "{warnings}");

    let printed = check(&app);
    assert!(
        printed.contains("warning: links: refers to `assets/missing.png`"),
        "{printed}"
    );
    assert!(
        printed.contains("warning: links: links to post `no-such-post`"),
        "{printed}"
    );
}

/// A post whose links and figures are written as raw HTML, inline and as blocks.
fn raw_html_post() -> String {
    post(
        "Raw",
        "2026-11-21",
        "[frontends]",
        "published",
        "Inline <a href=\"attention-scaling#takeaways\">link</a> and \
         <img src=\"../assets/fig.svg\" alt=\"fig\">.\n\n\
         <figure><img src=\"/assets/gone.png\"><figcaption>\
         <a href=\"/posts/no-raw-post\">gone</a> <a href=\"#question\">top</a></figcaption></figure>",
        "- none",
    )
}

#[tokio::test]
async fn raw_html_links_and_figures_point_where_the_frontend_says_and_are_checked() {
    let app = app_for_a_frontend().await;
    let raw = raw_html_post();
    let saved = app.create_post(&json!({"slug": "raw", "raw": raw})).await;
    assert_eq!(saved.status(), 201);
    let (post, _) = app.read_post("raw").await;
    let preview: Value = app
        .as_author(Method::POST, "/api/v1/preview")
        .json(&json!({"slug": "raw", "raw": raw}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for shown in [&post, &preview] {
        let html = shown["html"].as_str().unwrap();
        for expected in [
            r#"href="https://blog.example.org/p/attention-scaling/#takeaways""#,
            r#"src="https://api.example.org/assets/fig.svg""#,
            r#"src="https://api.example.org/assets/gone.png""#,
            r#"href="https://blog.example.org/p/no-raw-post/""#,
            r##"href="#question""##,
        ] {
            assert!(html.contains(expected), "{expected} not in {html}");
        }
        assert_eq!(shown["links_to"], json!(["attention-scaling"]));
        let warnings = serde_json::to_string(&shown["warnings"]).unwrap();
        assert!(warnings.contains("assets/gone.png"), "{warnings}");
        assert!(warnings.contains("no-raw-post"), "{warnings}");
        assert!(!warnings.contains("fig.svg"), "{warnings}");
    }
    assert_eq!(preview["html"], post["html"]);

    let printed = check(&app);
    assert!(
        printed.contains("warning: raw: refers to `assets/gone.png`"),
        "{printed}"
    );
    assert!(
        printed.contains("warning: raw: links to post `no-raw-post`"),
        "{printed}"
    );
}

#[tokio::test]
async fn a_preview_renders_as_get_would_and_commits_nothing() {
    let app = app_for_a_frontend().await;
    let commits = app.branch_log().len();
    let raw = linking_post().replace("title: \"Links\"", "title: \"Links again\"");
    let preview = app
        .as_author(Method::POST, "/api/v1/preview")
        .json(&json!({"slug": "links", "raw": raw}))
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);
    let preview: Value = preview.json().await.unwrap();
    assert_eq!(app.branch_log().len(), commits, "nothing committed");
    assert_eq!(preview["title"], "Links again");

    let (saved, etag) = app.read_post("links").await;
    for field in [
        "html",
        "sections",
        "toc",
        "links_to",
        "warnings",
        "open_questions",
        "word_count",
    ] {
        assert_eq!(preview[field], saved[field], "{field}");
    }
    assert!(!etag.is_empty());
    let structured = app
        .as_author(Method::POST, "/api/v1/preview")
        .json(&json!({"front_matter": {"title": "T"}, "markdown": "## Question\n\n[a](attention-scaling)\n"}))
        .send()
        .await
        .unwrap();
    let structured: Value = structured.json().await.unwrap();
    assert_eq!(structured["slug"], "t");
    assert!(
        structured["html"]
            .as_str()
            .unwrap()
            .contains("https://blog.example.org/p/attention-scaling/")
    );

    let anonymous = app
        .client
        .post(app.url("/api/v1/preview"))
        .json(&json!({"raw": "---\ntitle: T\n---\n"}))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401).await;
    let invalid = app
        .as_author(Method::POST, "/api/v1/preview")
        .json(&json!({"raw": "no front matter"}))
        .send()
        .await
        .unwrap();
    assert_problem(invalid, 400).await;
}

#[tokio::test]
async fn a_repeated_tag_lists_the_posts_with_every_tag() {
    let app = spawn_app().await;
    let slugs = |body: Value| -> Vec<String> {
        body["posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["slug"].as_str().unwrap().to_string())
            .collect()
    };
    let both: Value = app
        .json("/api/v1/posts?tag=transformers&tag=attention&_=1")
        .await;
    assert_eq!(slugs(both), ["attention-scaling"]);
    let one: Value = app.json("/api/v1/posts?tag=transformers").await;
    assert_eq!(slugs(one).len(), 2);
}

#[tokio::test]
async fn a_write_answers_with_the_etag_a_read_gives_even_with_warnings() {
    let app = crate::helpers::spawn_app().await;
    let raw = "---\ntitle: Dangling\nstatus: published\n---\n\n## Question\n\nSee [a post](no-such-post).\n";
    let response = app.create_post(&json!({"raw": raw})).await;
    assert_eq!(response.status(), 201);
    let written_etag = response.headers()["etag"].to_str().unwrap().to_string();
    let written: Value = response.json().await.unwrap();
    let warnings = serde_json::to_string(&written["warnings"]).unwrap();
    assert!(warnings.contains("no-such-post"), "{warnings}");

    let read = app
        .get_as_author("/api/v1/posts/dangling")
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["etag"].to_str().unwrap(), written_etag);
    let revalidated = app
        .get_as_author("/api/v1/posts/dangling")
        .header("If-None-Match", &written_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn a_figure_pushed_later_clears_its_warning_though_no_post_changed() {
    let app = app_for_a_frontend().await;
    let (post, before) = app.read_post("links").await;
    assert!(post["warnings"].to_string().contains("assets/missing.png"));

    app.commit_outside(
        "Add the missing figure",
        &[("assets/missing.png", Some("png"))],
    );
    let post = app
        .eventually("/api/v1/posts/links", |post| {
            !post["warnings"].to_string().contains("assets/missing.png")
        })
        .await;
    assert!(post["warnings"].to_string().contains("no-such-post"));
    let (_, after) = app.read_post("links").await;
    assert_ne!(after, before);
}
