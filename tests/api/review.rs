//! The review page at `/review/`: served from the binary with its own modules and the vendored
//! KaTeX, under a strict Content-Security-Policy, cacheable. What it does in a browser is
//! checked by `.ci/browser/review.mjs`.

use std::collections::BTreeSet;

use crate::helpers::{assert_problem, spawn_app};

/// The files a text names with `src="…"`, `href="…"` or `from '…'` that are the page's own
/// (relative), resolved against `base`, a folder under `/review/`.
fn relative_references(text: &str, base: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["src=\"", "href=\"", "from '"] {
        for part in text.split(marker).skip(1) {
            let end = part.find(['"', '\'']).unwrap_or(part.len());
            let reference = &part[..end];
            if reference.contains(':') || reference.starts_with(['/', '#']) {
                continue;
            }
            found.push(resolve(base, reference));
        }
    }
    found
}

/// `./x.js` and `../x.js` against a folder such as `/review/js/views/`.
fn resolve(base: &str, reference: &str) -> String {
    let mut parts: Vec<&str> = base.trim_end_matches('/').split('/').collect();
    for segment in reference.split('/') {
        match segment {
            "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[tokio::test]
async fn the_review_page_is_served_from_the_binary_under_a_strict_policy() {
    let app = spawn_app().await;
    let response = app.get("/review").send().await.unwrap();
    assert_eq!(response.status(), 200, "/review leads to /review/");
    assert_eq!(response.url().path(), "/review/");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let policy = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="js/app.js">"#));
    assert!(!html.contains("://"), "nothing from another origin");
}

#[tokio::test]
async fn every_file_the_page_names_is_served_with_its_type() {
    let app = spawn_app().await;
    let mut seen = BTreeSet::new();
    let mut queue = vec!["/review/index.html".to_string()];
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let response = app.get(&path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = match path.rsplit_once('.').map(|(_, extension)| extension) {
            Some("html") => "text/html",
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("svg") => "image/svg+xml",
            _ => "text/plain",
        };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
        // The page's own files, not KaTeX's, whose script builds markup of its own.
        if matches!(expected, "text/html" | "text/javascript") && !path.contains("/vendor/") {
            let base = &path[..=path.rfind('/').unwrap()];
            queue.extend(relative_references(&response.text().await.unwrap(), base));
        }
    }
    for module in [
        "/review/js/app.js",
        "/review/js/views/blame.js",
        "/review/js/views/questions.js",
        "/review/vendor/katex-0.19.1/katex.min.js",
        "/review/vendor/katex-0.19.1/LICENSE",
    ] {
        assert!(seen.contains(module), "{module} reached from the page");
    }
}

#[tokio::test]
async fn the_vendored_katex_is_kept_for_good_and_the_page_revalidated() {
    let app = spawn_app().await;
    let font = app
        .get("/review/vendor/katex-0.19.1/fonts/KaTeX_Main-Regular.woff2")
        .send()
        .await
        .unwrap();
    assert_eq!(font.status(), 200);
    assert_eq!(font.headers()["content-type"], "font/woff2");
    assert!(
        font.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let css = app.text("/review/vendor/katex-0.19.1/katex.min.css").await;
    assert!(css.contains("fonts/KaTeX_Main-Regular.woff2"));

    let page = app.get("/review/").send().await.unwrap();
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let etag = page.headers()["etag"].clone();
    let again = app
        .get("/review/")
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_file_the_page_does_not_have_is_a_problem_404() {
    let app = spawn_app().await;
    for path in [
        "/review/no-such-file.js",
        "/review/../Cargo.toml",
        "/review/js/",
    ] {
        let response = app.get(path).send().await.unwrap();
        assert_problem(response, 404).await;
    }
}
