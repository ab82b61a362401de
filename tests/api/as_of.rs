//! `?as_of=` against `git log --first-parent --before`: the post list, one post and the tags
//! as the blog had them, with the statuses of then and of now deciding what anonymous
//! readers see.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, post, spawn_app};

const DAY: i64 = 86_400;

/// The commit `git log --first-parent --before=<time>` names first.
fn git_before(app: &TestApp, time: &str) -> String {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(&app.repo)
        .args(["log", "--first-parent", "-1", "--format=%H"])
        .arg(format!("--before={time}"))
        .arg("main")
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn iso(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn get(app: &TestApp, path: &str, as_author: bool) -> (u16, Value) {
    let request = if as_author {
        app.get_as_author(path)
    } else {
        app.get(path)
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn slugs(app: &TestApp, query: &str, as_author: bool) -> Vec<String> {
    let status = if as_author { "&status=all" } else { "" };
    let (code, body) = get(
        app,
        &format!("/api/v1/posts?as_of={query}{status}"),
        as_author,
    )
    .await;
    assert_eq!(code, 200, "{query}");
    let mut slugs: Vec<String> = body["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_string())
        .collect();
    slugs.sort();
    slugs
}

#[tokio::test]
async fn the_blog_as_of_a_time_is_the_branch_at_git_logs_commit_then() {
    let app = spawn_app().await;
    let seeded = app.branch_log()[0].id.clone();
    // Noon UTC on each of the next three days.
    let day = (chrono::Utc::now().timestamp() / DAY + 1) * DAY + DAY / 2;
    let at = |n: i64| Some(git2::Time::new(day + n * DAY, 0));
    let kv = |status: &str| {
        post(
            "KV cache",
            "2026-12-01",
            "[memory]",
            status,
            "Rows.",
            "- Why?",
        )
    };
    let first = app.commit_outside_at(
        "Add the KV cache post",
        &[("posts/kv-cache.md", Some(&kv("published")))],
        at(0),
    );
    let second = app.commit_outside_at(
        "Back to draft; a late post",
        &[
            ("posts/kv-cache.md", Some(&kv("draft"))),
            (
                "posts/late-post.md",
                Some(&post(
                    "Late",
                    "2026-12-02",
                    "[late]",
                    "published",
                    "x",
                    "- y?",
                )),
            ),
        ],
        at(1),
    );
    let moe = crate::helpers::sample_posts()
        .into_iter()
        .find(|(slug, _)| *slug == "moe-routing")
        .unwrap()
        .1
        .replace("status: draft", "status: published");
    let last = app.commit_outside_at(
        "Publish MoE",
        &[("posts/moe-routing.md", Some(&moe))],
        at(2),
    );
    app.eventually("/api/v1/posts/moe-routing", |body| {
        body["revision"]["commit"] == last.as_str()
    })
    .await;

    // Each time names the commit git names, and the post as it was there.
    for time in [day - 1, day, day + DAY / 2, day + DAY + 1, day + 5 * DAY] {
        let expected = git_before(&app, &iso(time));
        let (code, body) = get(
            &app,
            &format!("/api/v1/posts/attention-scaling?as_of={}", iso(time)),
            false,
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(
            body["revision"]["commit"],
            seeded.as_str(),
            "unchanged since the seed"
        );
        // The KV post's revision then is git's commit then, for every commit that touched it.
        let (code, kv_then) = get(
            &app,
            &format!("/api/v1/posts/kv-cache?as_of={}", iso(time)),
            true,
        )
        .await;
        if expected == seeded {
            assert_eq!(code, 404, "not yet written");
        } else if expected == last {
            assert_eq!(
                kv_then["revision"]["commit"],
                second.as_str(),
                "untouched by the last"
            );
        } else {
            assert_eq!(kv_then["revision"]["commit"], expected.as_str());
        }
    }
    assert_eq!(git_before(&app, &iso(day)), first);

    // As of the first day (a date: its end): the KV post was published then but is a draft
    // now, so only token holders see it; the late post did not exist yet.
    let date = chrono::DateTime::from_timestamp(day, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        slugs(&app, &date, false).await,
        vec!["attention-scaling", "layernorm-vs-rmsnorm"]
    );
    assert_eq!(
        slugs(&app, &date, true).await,
        vec![
            "attention-scaling",
            "kv-cache",
            "layernorm-vs-rmsnorm",
            "moe-routing"
        ]
    );
    let (code, _) = get(&app, &format!("/api/v1/posts/late-post?as_of={date}"), true).await;
    assert_eq!(code, 404, "the late post did not exist then");
    let (code, _) = get(&app, &format!("/api/v1/posts/kv-cache?as_of={date}"), false).await;
    assert_eq!(code, 404, "a draft now stays hidden");
    // MoE was a draft then, though published now.
    let (code, _) = get(
        &app,
        &format!("/api/v1/posts/moe-routing?as_of={date}"),
        false,
    )
    .await;
    assert_eq!(code, 404);
    let (code, tags) = get(&app, &format!("/api/v1/tags?as_of={date}"), true).await;
    assert_eq!(code, 200);
    let names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"memory") && !names.contains(&"late"),
        "{names:?}"
    );

    // Now (or later): the late post is there, MoE too.
    let later = iso(day + 5 * DAY);
    assert_eq!(
        slugs(&app, &later, false).await,
        vec![
            "attention-scaling",
            "late-post",
            "layernorm-vs-rmsnorm",
            "moe-routing"
        ]
    );

    // A post turned draft now leaves the past list at once: no stale 304 for it.
    let path = format!("/api/v1/posts?as_of={date}");
    let etag = app.get(&path).send().await.unwrap().headers()["etag"].clone();
    let norms = crate::helpers::sample_posts()
        .into_iter()
        .find(|(slug, _)| *slug == "layernorm-vs-rmsnorm")
        .unwrap()
        .1
        .replace("status: published", "status: draft");
    let hidden = app.commit_outside_at(
        "Unpublish norms",
        &[("posts/layernorm-vs-rmsnorm.md", Some(&norms))],
        at(3),
    );
    app.eventually("/api/v1/posts/layernorm-vs-rmsnorm", |body| {
        body["revision"]["commit"] == hidden.as_str()
    })
    .await;
    let again = app
        .get(&path)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(slugs(&app, &date, false).await, vec!["attention-scaling"]);
}

#[tokio::test]
async fn as_of_before_the_first_commit_is_404_and_nonsense_is_400() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/posts",
        "/api/v1/posts/attention-scaling",
        "/api/v1/tags",
    ] {
        let before = app
            .get(&format!("{path}?as_of=2000-01-01"))
            .send()
            .await
            .unwrap();
        assert_problem(before, 404).await;
        let nonsense = app
            .get(&format!("{path}?as_of=last-week"))
            .send()
            .await
            .unwrap();
        assert_problem(nonsense, 400).await;
    }
}

/// The list as of a time is chosen from each version's front matter once the ledger has
/// read them, and from the whole past snapshot for a text search or the update order: the
/// two agree on which posts a reader sees, and in what order.
#[tokio::test]
async fn every_way_of_listing_the_past_agrees() {
    let app = spawn_app().await;
    let day = (chrono::Utc::now().timestamp() / DAY + 1) * DAY + DAY / 2;
    let published = |title: &str, date: &str, tags: &str| {
        post(title, date, tags, "published", "Body.", "- Open?")
    };
    app.commit_outside_at(
        "Two posts",
        &[
            (
                "posts/zeta.md",
                Some(&published("Zeta", "2026-12-03", "[memory]")),
            ),
            (
                "posts/alpha.md",
                Some(&published("alpha", "2026-12-05", "[memory, scale]")),
            ),
        ],
        Some(git2::Time::new(day, 0)),
    );
    let last = app.commit_outside_at(
        "Zeta is a draft again",
        &[(
            "posts/zeta.md",
            Some(&post(
                "Zeta",
                "2026-12-03",
                "[memory]",
                "draft",
                "B.",
                "- Q?",
            )),
        )],
        Some(git2::Time::new(day + DAY, 0)),
    );
    app.eventually("/api/v1/posts?status=all&per_page=100", |body| {
        body["posts"].as_array().is_some_and(|posts| {
            posts
                .iter()
                .any(|p| p["revision"]["commit"] == last.as_str())
        })
    })
    .await;
    app.eventually("/api/v1/questions", |body| body["questions"].is_array())
        .await;
    let then = iso(day + 1);
    let then = &then;
    let listed = |query: String, as_author: bool| {
        let app = &app;
        async move {
            let (code, body) = get(
                app,
                &format!("/api/v1/posts?as_of={then}{query}"),
                as_author,
            )
            .await;
            assert_eq!(code, 200, "{query}");
            let slugs: Vec<String> = body["posts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["slug"].as_str().unwrap().to_string())
                .collect();
            (slugs, body["meta"]["total"].as_u64().unwrap())
        }
    };
    // Authors see zeta as it was then; the public does not, for it is a draft now.
    let (by_title, total) = listed("&status=all&sort=title&per_page=100".into(), true).await;
    assert_eq!(total as usize, by_title.len());
    assert!(by_title.starts_with(&["alpha".to_string()]), "{by_title:?}");
    assert!(by_title.contains(&"zeta".to_string()));
    let (public, _) = listed("&sort=title&per_page=100".into(), false).await;
    assert!(!public.contains(&"zeta".to_string()), "{public:?}");
    // The public's list from the past snapshot (the update order) holds the same posts.
    let (public_by_update, _) = listed("&sort=-updated&per_page=100".into(), false).await;
    let mut public_sorted = public.clone();
    public_sorted.sort();
    let mut by_update_sorted = public_by_update;
    by_update_sorted.sort();
    assert_eq!(by_update_sorted, public_sorted);
    // Text searched and the update order: from the past snapshot, the same posts.
    let (searched, _) = listed("&status=all&q=body&per_page=100".into(), true).await;
    let (by_update, _) = listed("&status=all&sort=-updated&per_page=100".into(), true).await;
    let sorted = |mut slugs: Vec<String>| {
        slugs.sort();
        slugs
    };
    let mut all = by_title.clone();
    all.sort();
    assert_eq!(sorted(searched), ["alpha", "zeta"]);
    assert_eq!(sorted(by_update), all);
    // Paged and filtered by tag, from the keys.
    let (tagged, total) = listed("&status=all&tag=memory&tag=scale&sort=date".into(), true).await;
    assert_eq!((tagged, total), (vec!["alpha".to_string()], 1));
    let (second, total) = listed("&status=all&sort=title&per_page=1&page=2".into(), true).await;
    assert_eq!(
        (second, total as usize),
        (vec![by_title[1].clone()], by_title.len())
    );
}
