//! The open-questions ledger over HTTP: every question the blog has raised, with the
//! revisions that raised and settled it.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::history_views::PageQuery;
use super::listing::link_header;
use super::views::{self, PageMeta};
use super::{AppState, Viewer, caching};
use crate::error::{ApiError, Problem};
use crate::history::{Ledger, LedgerQuestion, Mark, rfc3339};
use crate::post::Status;
use crate::site::{Audience, LedgerError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_questions);
}

/// Which questions to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuestionState {
    Open,
    Settled,
    #[default]
    All,
}

/// The query of `GET /api/v1/questions`. Unknown parameters are ignored; a bad value of a
/// known one is a 400.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuestionsQuery {
    /// `open`, `settled` or `all` (default).
    pub state: Option<QuestionState>,
    /// Only questions of posts with this tag (in their latest version).
    pub tag: Option<String>,
    /// Only questions of the post with this slug (its latest one, for a renamed post).
    pub post: Option<String>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<usize>,
    /// Questions per page, at most 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<usize>,
}

/// A revision that raised a question.
#[derive(Debug, Serialize, ToSchema)]
pub struct Raised {
    #[schema(example = "4b825dc642cb6eb9a060e54bf8d69288fbee4904")]
    pub commit: String,
    #[schema(example = "2026-10-01T08:00:00Z")]
    pub committed_at: String,
}

/// A revision that settled a question: removed it from its post's Open Questions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Settled {
    #[schema(example = "9fceb02d0ae598e95dc970b74767f19372d61af8")]
    pub commit: String,
    #[schema(example = "2026-11-02T09:30:00Z")]
    pub committed_at: String,
    #[schema(example = "Settle the QK-norm question")]
    pub message: String,
}

/// One question through its rewordings.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionEntry {
    /// Its latest wording.
    #[schema(example = "Does QK-norm remove the need for warmup?")]
    pub text: String,
    /// The slug of its post (its latest one).
    #[schema(example = "attention-scaling")]
    pub post: String,
    /// `open` or `settled`.
    pub state: QuestionState,
    /// The revision that first raised it, before any rewording.
    pub raised: Raised,
    pub settled: Option<Settled>,
    /// Its earlier wordings, oldest first.
    pub reworded_from: Vec<String>,
}

/// A page of the ledger, the questions raised most recently first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionList {
    pub questions: Vec<QuestionEntry>,
    pub meta: PageMeta,
}

/// Every question the blog has raised under a post's Open Questions, across every revision
/// of every visible post: the revision that raised it, the one that settled it (removed
/// it), and its earlier wordings (a question removed while one sharing at least half of its
/// words is added in the same revision is reworded, not settled). Deleting a post settles
/// its questions. Drafts' questions are for token holders only.
#[utoipa::path(
    tag = "history",
    params(QuestionsQuery),
    responses(
        (status = 200, description = "A page of questions", body = QuestionList, example = json!({
            "questions": [
                {"text": "Does QK-norm remove the need for warmup?", "post": "attention-scaling", "state": "open",
                 "raised": {"commit": "9fceb02d0ae598e95dc970b74767f19372d61af8", "committed_at": "2026-11-02T09:30:00Z"},
                 "settled": null, "reworded_from": ["Does QK-norm remove warmup?"]},
                {"text": "Is re-centering ever needed?", "post": "layernorm-vs-rmsnorm", "state": "settled",
                 "raised": {"commit": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "committed_at": "2026-10-01T08:00:00Z"},
                 "settled": {"commit": "9fceb02d0ae598e95dc970b74767f19372d61af8", "committed_at": "2026-11-02T09:30:00Z", "message": "Settle re-centering"},
                 "reworded_from": []}
            ],
            "meta": {"page": 1, "per_page": 20, "total": 2, "pages": 1}
        })),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "An invalid parameter or an unknown one", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "An Authorization header whose token is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger is being built (on a first start, after its file was found damaged, or after the branch was rewritten); `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before asking again"))),
    ),
    security((), ("bearer" = []))
)]
#[get("/questions")]
pub async fn list_questions(
    request: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<QuestionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let paging = PageQuery {
        page: query.page,
        per_page: query.per_page,
    };
    // A bad page or per_page is a 400 even while the ledger is being built.
    paging.select(0)?;
    let snapshot = state.site.snapshot();
    let etag = caching::tip_etag(&snapshot, &request, &viewer);
    let site = state.site.clone();
    let audience = viewer.audience();
    let (body, meta) =
        web::block(move || site.with_ledger(|ledger| page_of(ledger, &query, audience, &paging)))
            .await?
            .map_err(|error| match error {
                LedgerError::Building => ApiError::Unavailable(error.to_string()),
                LedgerError::Store(error) => error.into(),
            })??;
    let mut response = caching::json_read(&request, &viewer, &etag, || body);
    if let Some(link) = link_header(request.path(), request.query_string(), &meta)
        && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&link)
    {
        response
            .headers_mut()
            .insert(actix_web::http::header::LINK, value);
    }
    Ok(response)
}

/// One page of the questions `query` asks for, as JSON, and where it sits.
fn page_of(
    ledger: &Ledger,
    query: &QuestionsQuery,
    audience: Audience,
    paging: &PageQuery,
) -> Result<(actix_web::web::Bytes, PageMeta), ApiError> {
    let wanted = query.state.unwrap_or_default();
    let mut found: Vec<(&LedgerQuestion, &str)> = ledger
        .posts()
        .filter(|post| audience == Audience::Authors || post.status == Status::Published)
        .filter(|post| {
            query
                .post
                .as_deref()
                .is_none_or(|slug| post.slug.as_str() == slug)
        })
        .filter(|post| query.tag.as_ref().is_none_or(|tag| post.tags.contains(tag)))
        .flat_map(|post| post.questions.iter().map(|q| (q, post.slug.as_str())))
        .filter(|(question, _)| match wanted {
            QuestionState::Open => question.settled.is_none(),
            QuestionState::Settled => question.settled.is_some(),
            QuestionState::All => true,
        })
        .collect();
    // Newest raised first; the rest in a fixed order so pages do not overlap.
    let order = |(a, a_post): &(&LedgerQuestion, &str), (b, b_post): &(&LedgerQuestion, &str)| {
        (b.raised.committed_at, a_post, &a.text).cmp(&(a.raised.committed_at, b_post, &b.text))
    };
    let (range, meta) = paging.select(found.len())?;
    // Only the questions up to the page's end need sorting: tens of thousands, for a page
    // of twenty.
    if range.end < found.len() {
        found.select_nth_unstable_by(range.end, order);
        found.truncate(range.end);
    }
    found.sort_unstable_by(order);
    let questions = found[range]
        .iter()
        .map(|(question, post)| entry(question, post))
        .collect();
    let list = QuestionList { questions, meta };
    let meta = list.meta;
    Ok((views::to_bytes(&list), meta))
}

fn entry(question: &LedgerQuestion, post: &str) -> QuestionEntry {
    let Mark {
        commit,
        committed_at,
        ..
    } = &question.raised;
    QuestionEntry {
        text: question.text.clone(),
        post: post.to_string(),
        state: if question.settled.is_some() {
            QuestionState::Settled
        } else {
            QuestionState::Open
        },
        raised: Raised {
            commit: commit.to_string(),
            committed_at: rfc3339(*committed_at),
        },
        settled: question.settled.as_ref().map(|mark| Settled {
            commit: mark.commit.to_string(),
            committed_at: rfc3339(mark.committed_at),
            message: mark.message.to_string(),
        }),
        reworded_from: question.reworded_from.clone(),
    }
}
