//! Figures and other assets: served from the branch (`GET /assets/{path}`), listed, and
//! uploaded or deleted by authors, one commit each, through the writer as posts are.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, put, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::caching::is_fresh;
use super::history_views::PageQuery;
use super::views::{self, PageMeta};
use super::write_requests::{Author, check_message, if_match};
use super::writes::commit;
use crate::error::{ApiError, Problem};
use crate::post::AssetPath;
use crate::store::{Oid, WriteSession};
use crate::writing::{Edit, Expected};

/// The header an upload's commit message comes in (the body is the file).
const COMMIT_MESSAGE_HEADER: &str = "x-commit-message";

pub fn configure_files(cfg: &mut web::ServiceConfig) {
    cfg.service(get_asset);
}

pub fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.service(list_assets)
        .service(put_asset)
        .service(delete_asset);
}

/// One asset as listed and as an upload answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"path": "softmax-saturation.svg", "bytes": 1834, "content_type": "image/svg+xml", "blob": "5d41402abc4b2a76b9719d911017c592ab3c1f0e", "url": "/assets/softmax-saturation.svg"}))]
pub struct AssetEntry {
    /// The path below `assets/`.
    pub path: String,
    pub bytes: usize,
    /// From the extension.
    pub content_type: String,
    /// The blob holding the bytes; the asset's `ETag` is this id in quotes.
    pub blob: String,
    /// Where the asset is served (absolute with `--public-url`).
    pub url: String,
}

/// The assets at the branch tip.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetList {
    pub assets: Vec<AssetEntry>,
    pub meta: PageMeta,
}

/// An upload: the asset as listed, and the commit made.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedAsset {
    #[serde(flatten)]
    pub asset: AssetEntry,
    /// The commit this write made.
    #[schema(example = "9b3c1f0e2d4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c")]
    pub commit: String,
}

/// A deletion: the commit made.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedAsset {
    /// The commit this write made.
    #[schema(example = "9b3c1f0e2d4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c")]
    pub commit: String,
}

/// The query of `GET /assets/{path}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    /// Read the asset as of this commit (a full id or an unambiguous prefix of at least 4
    /// hexadecimal digits) on the served branch.
    #[param(pattern = "^[0-9a-fA-F]{4,40}$")]
    pub rev: Option<String>,
}

impl AssetEntry {
    fn new(state: &AppState, path: &AssetPath, blob: Oid, bytes: usize) -> AssetEntry {
        AssetEntry {
            path: path.to_string(),
            bytes,
            content_type: path.content_type().to_string(),
            blob: blob.to_string(),
            url: asset_url(state.public_url.as_deref(), path),
        }
    }
}

/// Where an asset is served: under `public_url` when set, else at the server's root.
pub fn asset_url(public_url: Option<&str>, path: &AssetPath) -> String {
    let base = public_url.unwrap_or_default().trim_end_matches('/');
    format!("{base}/assets/{path}")
}

fn parse_path(path: &str) -> Result<AssetPath, ApiError> {
    AssetPath::parse(path).map_err(|e| ApiError::invalid_field("path", e.to_string()))
}

fn no_asset(path: &AssetPath) -> ApiError {
    ApiError::not_found(format!("no asset `{path}`"))
}

/// Serve an asset's bytes (a figure, a PDF, a data file) from the branch tip or a revision.
///
/// SVG is served with `Content-Security-Policy: sandbox`, so scripts in it never run.
#[utoipa::path(
    tag = "assets",
    path = "/assets/{path}",
    params(("path" = String, Path, description = "The path below `assets/`, e.g. `plots/loss.svg`"), AssetQuery),
    responses(
        (status = 200, description = "The bytes, typed by extension (`image/svg+xml`, `image/png`, `application/pdf`...); `ETag` is the blob id", content_type = "*/*"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "A path that leaves `assets/` (`..`, a leading `/`, `.git`) or an invalid revision", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such asset or revision", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/assets/{path:.*}")]
pub async fn get_asset(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<AssetQuery>,
) -> Result<HttpResponse, ApiError> {
    let path = parse_path(&path)?;
    let store = state.site.store().clone();
    let snapshot = state.site.snapshot();
    let rev = query.into_inner().rev;
    let pinned = rev.is_some();
    let blob = match rev {
        None => {
            let assets = match snapshot.listed_assets() {
                Some(assets) => assets.clone(),
                None => web::block(move || snapshot.assets(&store)).await??,
            };
            assets.get(&path).map(|file| file.blob)
        }
        Some(rev) => {
            let wanted = path.clone();
            web::block(move || {
                let reader = store.history_reader()?;
                let (commit, _) = snapshot.resolve_revision(&reader, &store, &rev)?;
                store.asset_blob_at(commit, &wanted)
            })
            .await??
        }
    };
    let blob = blob.ok_or_else(|| no_asset(&path))?;
    let etag = format!("\"{blob}\"");
    // A revision's bytes never change; the tip's can at any push.
    let cache_control = if pinned {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=0, must-revalidate"
    };
    let mut response = if is_fresh(&request, &etag) {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if path.content_type() == "image/svg+xml" {
        response.insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"));
    }
    if is_fresh(&request, &etag) {
        return Ok(response.finish());
    }
    let store = state.site.store().clone();
    let bytes = web::block(move || store.history_reader()?.blob(blob)).await??;
    Ok(response.content_type(path.content_type()).body(bytes))
}

/// List the assets at the branch tip, in path order.
#[utoipa::path(
    tag = "assets",
    path = "/api/v1/assets",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of assets", body = AssetList),
        (status = 400, description = "A bad page or per_page", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/assets")]
pub async fn list_assets(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = state.site.store().clone();
    let snapshot = state.site.snapshot();
    let assets = web::block(move || snapshot.assets(&store)).await??;
    let (range, meta) = query.select(assets.len())?;
    let entries = assets
        .iter()
        .skip(range.start)
        .take(range.len())
        .map(|file| AssetEntry::new(&state, &file.path, file.blob, file.bytes))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=0, must-revalidate"))
        .content_type("application/json")
        .body(views::to_bytes(&AssetList {
            assets: entries,
            meta,
        })))
}

/// Upload an asset: the raw bytes as the body, one commit (message in `X-Commit-Message`).
///
/// Images, PDF, CSV and JSON are accepted, typed by the path's extension. `If-Match`
/// (the asset's ETag) makes the upload fail with 412 if the asset changed meanwhile.
#[utoipa::path(
    tag = "assets",
    path = "/api/v1/assets/{path}",
    params(
        ("path" = String, Path, description = "The path below `assets/`"),
        ("If-Match" = Option<String>, Header, description = "The asset's ETag as last read"),
        ("X-Commit-Message" = Option<String>, Header, description = "The commit message; default `Upload asset <path>`"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 200, description = "Replaced", body = UploadedAsset),
        (status = 201, description = "Added; `Location` is where it is served", body = UploadedAsset),
        (status = 400, description = "A path that leaves `assets/`, or a bad commit message", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The asset changed since the ETag in If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than --max-asset-bytes", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an image, PDF, CSV or JSON file", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/assets/{path:.*}")]
pub async fn put_asset(
    Author(author): Author,
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let path = parse_path(&path)?;
    check_upload_type(&request, &path)?;
    let message = commit_message(&request)?;
    let expected = if_match(&request)?.unwrap_or(Expected::Current);
    let bytes = read_limited(body, state.max_asset_bytes).await?;
    let size = bytes.len();
    let blob = WriteSession::blob_id(&bytes)?;
    let edit = Edit::PutAsset {
        path: path.clone(),
        bytes,
        expected,
    };
    let written = commit(&state, edit, author, message).await?;
    let status = if written.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let entry = AssetEntry::new(&state, &path, blob, size);
    Ok(HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::ETAG, format!("\"{blob}\"")))
        .insert_header((header::LOCATION, format!("/assets/{path}")))
        .content_type("application/json")
        .body(views::to_bytes(&UploadedAsset {
            asset: entry,
            commit: written.commit.to_string(),
        })))
}

/// Delete an asset (a commit; its history stays). Needs `If-Match`.
#[utoipa::path(
    tag = "assets",
    path = "/api/v1/assets/{path}",
    params(
        ("path" = String, Path, description = "The path below `assets/`"),
        ("If-Match" = String, Header, description = "The asset's ETag as last read"),
        ("X-Commit-Message" = Option<String>, Header, description = "The commit message; default `Delete asset <path>`"),
    ),
    responses(
        (status = 200, description = "Deleted", body = DeletedAsset),
        (status = 400, description = "A path that leaves `assets/`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such asset", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The asset changed since the ETag in If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/assets/{path:.*}")]
pub async fn delete_asset(
    Author(author): Author,
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let path = parse_path(&path)?;
    let message = commit_message(&request)?;
    let expected = if_match(&request)?.ok_or(ApiError::PreconditionRequired)?;
    let edit = Edit::DeleteAsset { path, expected };
    let written = commit(&state, edit, author, message).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(views::to_bytes(&DeletedAsset {
            commit: written.commit.to_string(),
        })))
}

/// Only images, PDF, CSV and JSON, by extension; a `Content-Type` sent must agree.
fn check_upload_type(request: &HttpRequest, path: &AssetPath) -> Result<(), ApiError> {
    if !path.is_accepted_upload() {
        return Err(ApiError::UnsupportedMediaType(format!(
            "`{path}` is {}; only images, PDF, CSV and JSON files are accepted",
            path.content_type()
        )));
    }
    let sent = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    match sent {
        None | Some("application/octet-stream") => Ok(()),
        Some(sent) if sent.eq_ignore_ascii_case(path.content_type()) => Ok(()),
        Some(sent) => Err(ApiError::UnsupportedMediaType(format!(
            "the body is sent as {sent} but `{path}` is {}",
            path.content_type()
        ))),
    }
}

fn commit_message(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get(COMMIT_MESSAGE_HEADER) else {
        return Ok(None);
    };
    let message = value
        .to_str()
        .map_err(|_| ApiError::invalid_field("X-Commit-Message", "not visible ASCII"))?
        .to_string();
    check_message(Some(&message))?;
    Ok(Some(message))
}

/// The body, refused with 413 as soon as it passes `limit` bytes.
async fn read_limited(mut body: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
