//! Reading posts: the list, one post, tags, backlinks, caching, drafts and bad input.

use serde_json::Value;

use crate::helpers::{assert_problem, post, spawn_app};

#[tokio::test]
async fn the_list_shows_published_posts_newest_first_with_meta() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/posts").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("etag"));
    assert!(response.headers().contains_key("link"));
    let body: Value = response.json().await.unwrap();
    let slugs: Vec<&str> = body["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["layernorm-vs-rmsnorm", "attention-scaling"]);
    assert_eq!(body["meta"]["total"], 2);
    assert_eq!(body["meta"]["page"], 1);
    assert_eq!(body["meta"]["pages"], 1);
    let entry = &body["posts"][0];
    assert!(entry.get("html").is_none() && entry.get("markdown").is_none());
    assert_eq!(entry["front_matter"]["series"], "kept-untouched");
}

#[tokio::test]
async fn the_list_filters_sorts_and_paginates() {
    let app = spawn_app().await;
    let body: Value = app
        .get("/api/v1/posts?tag=attention")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["meta"]["total"], 1);
    assert_eq!(body["posts"][0]["slug"], "attention-scaling");

    let body: Value = app
        .get("/api/v1/posts?q=post-ln")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["posts"][0]["slug"], "layernorm-vs-rmsnorm");
    assert_eq!(body["meta"]["total"], 1);

    let body: Value = app
        .get("/api/v1/posts?sort=date")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["posts"][0]["slug"], "attention-scaling");

    let response = app
        .get("/api/v1/posts?per_page=1&page=2")
        .send()
        .await
        .unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("rel=\"prev\"") && !link.contains("rel=\"next\""),
        "{link}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["meta"]["pages"], 2);
    assert_eq!(body["posts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_post_has_every_field_of_the_contract() {
    let app = spawn_app().await;
    let response = app
        .get("/api/v1/posts/attention-scaling")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.as_bytes()[41] == b'-' && etag.ends_with('"'),
        "strong ETag led by the blob id: {etag}"
    );
    let post: Value = response.json().await.unwrap();
    for field in [
        "slug",
        "title",
        "date",
        "tags",
        "status",
        "summary",
        "front_matter",
        "markdown",
        "html",
        "toc",
        "sections",
        "open_questions",
        "warnings",
        "links_to",
        "word_count",
        "reading_minutes",
    ] {
        assert!(post.get(field).is_some(), "missing {field}");
    }
    assert_eq!(post["title"], "Why divide by sqrt(d_k)?");
    assert_eq!(post["open_questions"][0], "Does it matter with QK-norm?");
    assert_eq!(post["links_to"][0], "layernorm-vs-rmsnorm");
    let kinds: Vec<&str> = post["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "question",
            "background",
            "exploration",
            "takeaways",
            "open_questions"
        ]
    );
    assert!(post["html"].as_str().unwrap().contains("math-display"));
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/posts/attention-scaling",
        "/api/v1/posts",
        "/api/v1/tags",
    ] {
        let first = app.get(path).send().await.unwrap();
        let etag = first.headers()["etag"].clone();
        let again = app
            .get(path)
            .header("if-none-match", etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag);
        let other = app
            .get(path)
            .header("if-none-match", "\"other\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn drafts_are_invisible_to_anonymous_clients() {
    let app = spawn_app().await;
    assert_problem(
        app.get("/api/v1/posts/moe-routing").send().await.unwrap(),
        404,
    )
    .await;
    assert_problem(
        app.get("/api/v1/posts/moe-routing/backlinks")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    for status in ["draft", "all"] {
        let response = app
            .get(&format!("/api/v1/posts?status={status}"))
            .send()
            .await
            .unwrap();
        let response_header = response.headers().get("www-authenticate").cloned();
        assert_problem(response, 401).await;
        assert!(response_header.is_some());
    }
    let tags: Value = app
        .get("/api/v1/tags")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!tags.to_string().contains("\"moe\""), "{tags}");
    let backlinks: Value = app
        .get("/api/v1/posts/attention-scaling/backlinks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !backlinks.to_string().contains("moe-routing"),
        "{backlinks}"
    );
}

#[tokio::test]
async fn an_author_sees_drafts() {
    let app = spawn_app().await;
    let response = app
        .get_as_author("/api/v1/posts/moe-routing")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "private, no-cache");
    let body: Value = app
        .get_as_author("/api/v1/posts?status=draft")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["meta"]["total"], 1);
    let tags: Value = app
        .get_as_author("/api/v1/tags")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        tags["tags"][0],
        serde_json::json!({"tag": "transformers", "count": 3})
    );
    let backlinks: Value = app
        .get_as_author("/api/v1/posts/attention-scaling/backlinks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(backlinks["posts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_wrong_token_is_401_not_anonymous() {
    let app = spawn_app().await;
    let response = app
        .get("/api/v1/posts")
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    let body = assert_problem(response, 401).await;
    assert!(
        !body.to_string().contains("nope"),
        "the token never appears in errors"
    );
}

#[tokio::test]
async fn backlinks_list_the_posts_linking_here() {
    let app = spawn_app().await;
    let body: Value = app
        .get("/api/v1/posts/layernorm-vs-rmsnorm/backlinks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["posts"][0]["slug"], "attention-scaling");
}

#[tokio::test]
async fn invalid_slugs_are_400() {
    let app = spawn_app().await;
    let long = "a".repeat(300);
    for slug in ["..%2Fx", ".git", "Upper", long.as_str(), "a--b", "a_b"] {
        let response = app
            .get(&format!("/api/v1/posts/{slug}"))
            .send()
            .await
            .unwrap();
        let body = assert_problem(response, 400).await;
        assert_eq!(body["errors"][0]["field"], "slug", "{slug}");
    }
}

#[tokio::test]
async fn bad_query_values_are_400() {
    let app = spawn_app().await;
    for query in [
        "sort=random",
        "status=maybe",
        "page=0",
        "per_page=101",
        "per_page=abc",
        "per_page=abc&utm_source=x",
        "page=",
        "per_page=&page=1",
        "sort=",
        "status=",
        "as_of=",
    ] {
        let response = app
            .get(&format!("/api/v1/posts?{query}"))
            .send()
            .await
            .unwrap();
        assert_problem(response, 400).await;
    }
}

#[tokio::test]
async fn unknown_routes_and_posts_are_problem_404s() {
    let app = spawn_app().await;
    assert_problem(
        app.get("/api/v1/posts/no-such-post").send().await.unwrap(),
        404,
    )
    .await;
    assert_problem(app.get("/api/v1/nothing").send().await.unwrap(), 404).await;
}

#[tokio::test]
async fn a_post_can_be_read_as_of_a_past_commit() {
    let app = spawn_app().await;
    let before: Value = app
        .get("/api/v1/posts/attention-scaling")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_tip = app.commit_outside("touch nothing relevant", &[("notes.txt", Some("hi"))]);
    let changed = post(
        "Why divide by sqrt(d_k)? (revised)",
        "2026-09-01",
        "[attention]",
        "published",
        "b",
        "- q",
    );
    app.commit_outside(
        "Revise the title",
        &[("posts/attention-scaling.md", Some(&changed))],
    );
    app.eventually("/api/v1/posts/attention-scaling", |p| {
        p["title"] == "Why divide by sqrt(d_k)? (revised)"
    })
    .await;
    let old: Value = app
        .get(&format!(
            "/api/v1/posts/attention-scaling?rev={}",
            &first_tip[..12]
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(old["title"], before["title"]);
    assert_eq!(old["html"], before["html"]);
    assert_eq!(old["revision_count"], 1, "history fields as of that commit");
    assert_eq!(old["revision"], before["revision"]);
}

#[tokio::test]
async fn bad_and_unknown_revisions_are_rejected() {
    let app = spawn_app().await;
    for rev in ["HEAD", "HEAD~1:../x", "--all", "abc", "main"] {
        let response = app
            .get(&format!("/api/v1/posts/attention-scaling?rev={rev}"))
            .send()
            .await
            .unwrap();
        assert_problem(response, 400).await;
    }
    let response = app
        .get(&format!(
            "/api/v1/posts/attention-scaling?rev={}",
            "0".repeat(40)
        ))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404).await;
}

#[tokio::test]
async fn commits_made_outside_the_server_are_served_without_a_restart() {
    let app = spawn_app().await;
    let text = post(
        "KV cache",
        "2026-11-20",
        "[inference]",
        "published",
        "x",
        "- y",
    );
    app.commit_outside(
        "Add kv-cache from elsewhere",
        &[("posts/kv-cache.md", Some(&text))],
    );
    let post = app
        .eventually("/api/v1/posts/kv-cache", |p| p["slug"] == "kv-cache")
        .await;
    assert_eq!(post["title"], "KV cache");
    app.commit_outside("Remove it again", &[("posts/kv-cache.md", None)]);
    app.eventually("/api/v1/posts?status=all", |list| {
        !list.to_string().contains("kv-cache")
    })
    .await;
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
    let ready: Value = app
        .get("/readyz")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["posts"], 3);
}

/// A plain read of a post is answered before the router (`http::warm_posts`); a spelling
/// the router decodes (`%61` is `a`) still goes through it. Both must give the same answer.
#[tokio::test]
async fn a_post_read_answers_the_same_before_and_through_the_router() {
    let app = spawn_app().await;
    let answer = |path: &'static str, author: bool| {
        let app = &app;
        async move {
            let request = if author {
                app.get_as_author(path)
            } else {
                app.get(path)
            };
            let response = request.send().await.unwrap();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter(|(name, _)| !["date", "x-request-id"].contains(&name.as_str()))
                .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
                .collect();
            (
                response.status().as_u16(),
                headers,
                response.bytes().await.unwrap(),
            )
        }
    };
    for (warm, routed, author, status) in [
        (
            "/api/v1/posts/attention-scaling",
            "/api/v1/posts/%61ttention-scaling",
            false,
            200,
        ),
        (
            "/api/v1/posts/moe-routing",
            "/api/v1/posts/%6Doe-routing",
            false,
            404,
        ),
        (
            "/api/v1/posts/moe-routing",
            "/api/v1/posts/%6Doe-routing",
            true,
            200,
        ),
        (
            "/api/v1/posts/no-such-post",
            "/api/v1/posts/%6Eo-such-post",
            false,
            404,
        ),
    ] {
        let (warm, routed) = (answer(warm, author).await, answer(routed, author).await);
        assert_eq!(warm.0, status);
        assert_eq!(warm.0, routed.0);
        assert_eq!(warm.1, routed.1, "headers of {status}");
        if status == 200 {
            assert_eq!(warm.2, routed.2);
        }
    }
    let metrics = app.text("/metrics").await;
    let route = r#"route="/api/v1/posts/{slug}",method="GET",status="200"} 4"#;
    assert!(metrics.contains(route), "{metrics}");
}
