//! The Atom feed: a valid Atom document of published posts, most recently updated first,
//! with conditional requests.

use crate::helpers::{TOKEN, TestApp, post, sample_posts, spawn_app, spawn_app_with};

const ATOM: &str = "http://www.w3.org/2005/Atom";

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name((ATOM, name)))
}

fn text<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    child(node, name)
        .and_then(|n| n.text())
        .unwrap_or_else(|| panic!("<{name}> missing or empty"))
}

/// The instant an Atom date-time element names (`Z` or `+00:00` alike).
fn time(node: roxmltree::Node<'_, '_>, name: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(text(node, name))
        .unwrap_or_else(|e| panic!("<{name}> is not RFC 3339: {e}"))
}

fn instant(rfc3339: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap()
}

/// Midnight UTC of a `YYYY-MM-DD` day, as a commit time.
fn midnight(day: &str) -> git2::Time {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    git2::Time::new(date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp(), 0)
}

fn front_matter_date(file: &str) -> &str {
    file.lines()
        .find_map(|line| line.strip_prefix("date: "))
        .unwrap()
}

/// Commits one post at midnight UTC of `day`.
fn publish_on(app: &TestApp, day: &str, slug: &str, file: &str) {
    let path = format!("posts/{slug}.md");
    app.commit_outside_at(
        &format!("Publish {slug}"),
        &[(&path, Some(file))],
        Some(midnight(day)),
    );
}

/// The sample blog, each post committed at midnight UTC of its front matter date, oldest
/// first: when a post was last updated is then the same whether it is read from the front
/// matter or from the history.
async fn blog_committed_on_its_dates() -> TestApp {
    let app = spawn_app_with(Vec::new()).await;
    let mut posts = sample_posts();
    posts.sort_by(|a, b| front_matter_date(&a.1).cmp(front_matter_date(&b.1)));
    for (slug, file) in &posts {
        publish_on(&app, front_matter_date(file), slug, file);
    }
    app.eventually("/api/v1/posts?status=all", |body| {
        body["meta"]["total"] == 3
    })
    .await;
    app
}

#[tokio::test]
async fn the_feed_is_atom_with_published_posts_newest_first() {
    let app = blog_committed_on_its_dates().await;
    let response = app.get("/api/v1/feed.atom").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/atom+xml"),
        "{content_type}"
    );
    let xml = response.text().await.unwrap();
    let document = roxmltree::Document::parse(&xml).expect("the feed is well-formed XML");

    let feed = document.root_element();
    assert!(feed.has_tag_name((ATOM, "feed")), "root is Atom's <feed>");
    let xml_base = feed.attribute(("http://www.w3.org/XML/1998/namespace", "base"));
    assert_eq!(xml_base, Some(format!("{}/", app.address).as_str()));
    assert!(text(feed, "id").ends_with("/api/v1/feed.atom"));
    assert_eq!(text(feed, "title"), "Palimpsest");
    assert_eq!(time(feed, "updated"), instant("2026-10-01T00:00:00Z"));
    let self_link = child(feed, "link").expect("a self link");
    assert_eq!(self_link.attribute("rel"), Some("self"));

    let entries: Vec<_> = feed
        .children()
        .filter(|n| n.has_tag_name((ATOM, "entry")))
        .collect();
    let titles: Vec<&str> = entries.iter().map(|e| text(*e, "title")).collect();
    assert_eq!(
        titles,
        ["LayerNorm versus RMSNorm", "Why divide by sqrt(d_k)?"]
    );

    let newest = entries[0];
    assert!(text(newest, "id").ends_with("/api/v1/posts/layernorm-vs-rmsnorm"));
    assert_eq!(time(newest, "updated"), instant("2026-10-01T00:00:00Z"));
    assert_eq!(time(newest, "published"), instant("2026-10-01T00:00:00Z"));
    assert_eq!(text(newest, "summary"), "About LayerNorm versus RMSNorm.");
    let content = child(newest, "content").unwrap();
    assert_eq!(content.attribute("type"), Some("html"));
    assert!(content.text().unwrap().contains("<h2 id=\"question\">"));
    let link = child(newest, "link").unwrap();
    assert!(
        link.attribute("href")
            .unwrap()
            .ends_with("/api/v1/posts/layernorm-vs-rmsnorm")
    );
    let categories: Vec<&str> = newest
        .children()
        .filter(|n| n.has_tag_name((ATOM, "category")))
        .filter_map(|n| n.attribute("term"))
        .collect();
    assert_eq!(categories, ["transformers", "normalization"]);
}

#[tokio::test]
async fn drafts_never_appear_in_the_feed_even_for_authors() {
    let app = spawn_app().await;
    for request in [
        app.get("/api/v1/feed.atom"),
        app.get_as_author("/api/v1/feed.atom"),
    ] {
        let xml = request.send().await.unwrap().text().await.unwrap();
        let document = roxmltree::Document::parse(&xml).unwrap();
        let ids: Vec<&str> = document
            .root_element()
            .children()
            .filter(|n| n.has_tag_name((ATOM, "entry")))
            .map(|entry| text(entry, "id"))
            .collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert!(
            ids.iter().all(|id| !id.ends_with("/moe-routing")),
            "{ids:?}"
        );
        assert!(
            !xml.contains("Mixture-of-experts"),
            "the draft's title leaked"
        );
    }
    // A token is not needed, and a wrong one does not matter: the feed is public.
    let response = app
        .get("/api/v1/feed.atom")
        .bearer_auth(format!("{TOKEN}-wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn markup_in_titles_and_bodies_is_escaped() {
    let mut file = post(
        "Q&A: <softmax> 'temperature'",
        "2026-09-01",
        "[a&b]",
        "published",
        "Compare x < y && y > z.",
        "- Why?",
    );
    file = file.replace("Math:", "Stray control \u{1b} character. Math:");
    let app = spawn_app_with(vec![("escaping", file)]).await;
    let xml = app.text("/api/v1/feed.atom").await;
    let document = roxmltree::Document::parse(&xml).expect("escaped text stays well-formed");
    let entry = child(document.root_element(), "entry").unwrap();
    assert_eq!(text(entry, "title"), "Q&A: <softmax> 'temperature'");
    let category = child(entry, "category").unwrap();
    assert_eq!(category.attribute("term"), Some("a&b"));
    assert!(text(entry, "content").contains("x &lt; y"));
}

#[tokio::test]
async fn the_feed_answers_304_until_the_branch_moves() {
    let app = blog_committed_on_its_dates().await;
    let response = app.get("/api/v1/feed.atom").send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .get("/api/v1/feed.atom")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let rope = post("RoPE", "2026-12-01", "[positions]", "published", "b", "- q");
    publish_on(&app, "2026-12-01", "rope", &rope);
    app.eventually("/api/v1/posts/rope", |body| body["slug"] == "rope")
        .await;
    let moved = app
        .get("/api/v1/feed.atom")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let xml = moved.text().await.unwrap();
    let document = roxmltree::Document::parse(&xml).unwrap();
    let first = child(document.root_element(), "entry").unwrap();
    assert_eq!(text(first, "title"), "RoPE");
}

async fn feed_id(app: &TestApp) -> String {
    let xml = app.text("/api/v1/feed.atom").await;
    let document = roxmltree::Document::parse(&xml).unwrap();
    text(document.root_element(), "id").to_string()
}

#[tokio::test]
async fn links_are_absolute_on_the_host_the_request_was_sent_to() {
    let app = spawn_app().await;
    assert_eq!(
        feed_id(&app).await,
        format!("{}/api/v1/feed.atom", app.address)
    );
}
