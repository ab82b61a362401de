//! The review page at `/review/`: a reviewer's view of each post's history (timeline,
//! versions, diffs by section, blame, the blog's open questions). The page is plain HTML,
//! CSS and JavaScript modules under `web/review/`, compiled into the binary, so it works
//! without a network or a build step; it reads only the public JSON API, like any frontend.
//!
//! KaTeX is vendored from the npm package `katex` (the version is in its folder's name, its
//! licence beside it): the minified script, its stylesheet, the auto-render extension and
//! the woff2 fonts, which every browser that runs modules can read.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use super::caching;
use crate::error::ApiError;

/// Where the page is mounted.
pub const REVIEW_PATH: &str = "/review/";

/// Scripts, styles, fonts and data only from this server: no inline script, no plugins, no
/// framing, and `fetch` to the API on the same origin. The one inline style allowed is a
/// table cell's alignment, the only `style` a post's sanitised html keeps
/// (`post::sanitize`), named by the hashes of its three values
/// (`printf 'text-align: right' | openssl dgst -sha256 -binary | base64`). KaTeX sets its
/// styles through the DOM, which a policy does not restrict.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-hashes' 'sha256-6l+tpow5lGPV0MHWZlDv8nD7HrL77FGFldqQ7zc5gxY=' \
    'sha256-Y9v1MZrln1N8aPBY5lmpxYKwFkcp/nyBMMEnn7WFjuw=' \
    'sha256-i0JPB0qmRu5AViJTxOIzqXnfGoiWFw+oNAm4uJd7ZQk='; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Files under a versioned folder never change at the same path.
const VERSIONED_FOLDER: &str = "vendor/";

/// One file of the page, as compiled in.
struct PageFile {
    path: &'static str,
    bytes: &'static [u8],
}

/// The page's files, each compiled in from `web/review/<path>`; a test checks that every
/// file in that folder is listed here.
macro_rules! page_files {
    ($($path:literal),* $(,)?) => {
        &[$(PageFile {
            path: $path,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/review/", $path)),
        }),*]
    };
}

const FILES: &[PageFile] = page_files![
    "index.html",
    "icon.svg",
    "review.css",
    "js/api.js",
    "js/app.js",
    "js/dom.js",
    "js/format.js",
    "js/history.js",
    "js/math.js",
    "js/parts.js",
    "js/views/blame.js",
    "js/views/diff.js",
    "js/views/posts.js",
    "js/views/questions.js",
    "js/views/revision.js",
    "js/views/timeline.js",
    "vendor/katex-0.19.1/LICENSE",
    "vendor/katex-0.19.1/auto-render.min.js",
    "vendor/katex-0.19.1/katex.min.css",
    "vendor/katex-0.19.1/katex.min.js",
    "vendor/katex-0.19.1/fonts/KaTeX_AMS-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Caligraphic-Bold.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Caligraphic-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Fraktur-Bold.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Fraktur-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Main-Bold.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Main-BoldItalic.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Main-Italic.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Main-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Math-BoldItalic.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Math-Italic.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_SansSerif-Bold.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_SansSerif-Italic.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_SansSerif-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Script-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Size1-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Size2-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Size3-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Size4-Regular.woff2",
    "vendor/katex-0.19.1/fonts/KaTeX_Typewriter-Regular.woff2",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/review", web::get().to(review_without_slash))
        .route("/review/", web::get().to(page))
        .route("/review/{path:.+}", web::get().to(page_file));
}

/// The page's files are relative to `/review/`, so `/review` must not serve it itself.
async fn review_without_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, REVIEW_PATH))
        .finish()
}

async fn page(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&request, "index.html")
}

async fn page_file(
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    serve(&request, &path)
}

/// One compiled-in file with its type, ETag and caching headers (304 when the client has it).
fn serve(request: &HttpRequest, path: &str) -> Result<HttpResponse, ApiError> {
    let (file, etag) = files()
        .get(path)
        .ok_or_else(|| ApiError::not_found(format!("the review page has no file {path}")))?;
    let fresh = caching::is_fresh(request, etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    // Files in a versioned folder can be kept for good; the page's own are revalidated, so a
    // new server version shows at once.
    let cache_control = if path.starts_with(VERSIONED_FOLDER) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.insert_header((header::ETAG, value));
    }
    if fresh {
        return Ok(response.finish());
    }
    Ok(response
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        .body(file.bytes))
}

/// Path → the file and its strong ETag (a digest of its bytes), computed once.
fn files() -> &'static HashMap<&'static str, (&'static PageFile, String)> {
    static FILES_BY_PATH: OnceLock<HashMap<&'static str, (&'static PageFile, String)>> =
        OnceLock::new();
    FILES_BY_PATH.get_or_init(|| {
        FILES
            .iter()
            .map(|file| {
                let digest = Sha256::digest(file.bytes);
                let etag = format!("\"{}\"", hex::encode(&digest[..16]));
                (file.path, (file, etag))
            })
            .collect()
    })
}

/// The page uses six kinds of file, so a table is clearer than a MIME database.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("woff2") => "font/woff2",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_page_folder_is_compiled_in() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/review");
        let mut on_disk = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("web/review is readable") {
                let path = entry.expect("a folder entry").path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let relative = path.strip_prefix(&root).expect("under the root");
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut compiled: Vec<String> = FILES.iter().map(|f| f.path.to_string()).collect();
        compiled.sort();
        assert_eq!(on_disk, compiled);
    }

    #[test]
    fn each_kind_of_file_has_its_type() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("review.css"), "text/css; charset=utf-8");
        assert_eq!(
            content_type("vendor/katex-0.19.1/fonts/KaTeX_Main-Regular.woff2"),
            "font/woff2"
        );
        assert_eq!(
            content_type("vendor/katex-0.19.1/LICENSE"),
            "text/plain; charset=utf-8"
        );
    }
}
