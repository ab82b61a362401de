//! The revision feeds: one Atom entry per revision to a published post, newest first, naming
//! the sections changed and the open questions settled; drafts never appear.

use crate::helpers::{etag_of, post, spawn_app_with};

const ATOM: &str = "http://www.w3.org/2005/Atom";

fn entries(xml: &str) -> Vec<(String, String, String)> {
    let document = roxmltree::Document::parse(xml).expect("the feed is well-formed XML");
    let feed = document.root_element();
    assert!(feed.has_tag_name((ATOM, "feed")));
    feed.children()
        .filter(|n| n.has_tag_name((ATOM, "entry")))
        .map(|entry| {
            let child = |name: &str| entry.children().find(|n| n.has_tag_name((ATOM, name)));
            let title = child("title")
                .and_then(|n| n.text())
                .unwrap_or("")
                .to_string();
            let summary = child("summary")
                .and_then(|n| n.text())
                .unwrap_or("")
                .to_string();
            let href = child("link")
                .and_then(|n| n.attribute("href"))
                .unwrap()
                .to_string();
            (title, summary, href)
        })
        .collect()
}

#[tokio::test]
async fn revision_feeds_name_sections_and_settled_questions_and_hide_drafts() {
    let app = spawn_app_with(Vec::new()).await;
    let first = post(
        "KV",
        "2026-11-01",
        "[t]",
        "published",
        "Old.",
        "- First?\n- Second?",
    );
    let second = post("KV", "2026-11-01", "[t]", "published", "New.", "- Second?");
    let draft = post("Secret", "2026-11-02", "[t]", "draft", "Hidden.", "- Why?");
    let one = app.commit_outside("Write kv", &[("posts/kv.md", Some(&first))]);
    let two = app.commit_outside("Settle a question", &[("posts/kv.md", Some(&second))]);
    app.commit_outside("Draft secret", &[("posts/secret.md", Some(&draft))]);
    app.eventually("/api/v1/posts?status=all", |body| {
        body["meta"]["total"] == 2
    })
    .await;

    let response = app
        .get("/api/v1/history.atom?unknown=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let etag = etag_of(&response);
    let site = entries(&response.text().await.unwrap());
    assert_eq!(site.len(), 2, "one entry per published revision: {site:?}");
    assert!(
        site[0].0.contains("Settle a question"),
        "newest first: {site:?}"
    );
    assert!(site[1].0.contains("Write kv"));
    assert!(site[0].1.contains("Background"), "{}", site[0].1);
    assert!(
        site[0].1.contains("Questions settled: First?"),
        "{}",
        site[0].1
    );
    assert!(
        site[0]
            .2
            .ends_with(&format!("/api/v1/posts/kv/diff?from={one}&to={two}")),
        "{}",
        site[0].2
    );
    assert!(
        site.iter()
            .all(|(title, summary, _)| { !title.contains("secret") && !summary.contains("Why?") })
    );

    let unchanged = app
        .get("/api/v1/history.atom")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);

    let kv = entries(&app.text("/api/v1/posts/kv/revisions.atom").await);
    assert_eq!(kv.len(), 2);
    assert_eq!(kv, site);
    let hidden = app
        .get("/api/v1/posts/secret/revisions.atom")
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
}
