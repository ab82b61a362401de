//! The read benchmark's baseline: an actix-web server that answers each recorded path with
//! the exact status, headers and body Palimpsest gave for it, and does nothing else.
//!
//! Whatever Palimpsest's throughput falls short of this server's is the cost of its own
//! work per request (routing to the right post, visibility, ETags, joining list entries),
//! since the HTTP stack, the bytes on the wire and the worker count are the same.
//!
//! ```text
//! reference-server <listen address> <workers> <recordings dir>
//! ```
//!
//! The recordings directory holds, per response, `NAME.path` (the request path),
//! `NAME.headers` (the status line and headers, as `curl -D` writes them) and `NAME.body`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// Headers the HTTP stack writes itself for every response; replaying them would double them.
const STACK_HEADERS: [&str; 4] = ["content-length", "date", "transfer-encoding", "connection"];

/// One recorded response.
struct Recording {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

type Recordings = HashMap<String, Recording>;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, workers, dir] = args.as_slice() else {
        eprintln!("usage: reference-server <listen address> <workers> <recordings dir>");
        std::process::exit(2);
    };
    let workers: usize = workers.parse().map_err(std::io::Error::other)?;
    let recordings = Arc::new(load(Path::new(dir))?);
    for path in recordings.keys() {
        eprintln!("replaying {path}");
    }
    actix_web::rt::System::new().block_on(async move {
        let recordings = web::Data::from(recordings);
        HttpServer::new(move || {
            App::new()
                .app_data(recordings.clone())
                .default_service(web::to(replay))
        })
        .workers(workers)
        .bind(listen.as_str())?
        .run()
        .await
    })
}

/// Answers a recorded path with its recording; anything else is a bare 404.
async fn replay(request: HttpRequest, recordings: web::Data<Recordings>) -> HttpResponse {
    let Some(recording) = recordings.get(request.path()) else {
        return HttpResponse::NotFound().finish();
    };
    let mut response = HttpResponse::build(recording.status);
    for (name, value) in &recording.headers {
        response.append_header((name.clone(), value.clone()));
    }
    response.body(recording.body.clone())
}

fn load(dir: &Path) -> std::io::Result<Recordings> {
    let mut recordings = Recordings::new();
    for entry in std::fs::read_dir(dir)? {
        let file = entry?.path();
        if file.extension().is_none_or(|ext| ext != "path") {
            continue;
        }
        let path = std::fs::read_to_string(&file)?.trim().to_string();
        let head = std::fs::read_to_string(file.with_extension("headers"))?;
        let body = std::fs::read(file.with_extension("body"))?;
        let (status, headers) = parse_head(&head)?;
        recordings.insert(
            path,
            Recording {
                status,
                headers,
                body: body.into(),
            },
        );
    }
    Ok(recordings)
}

/// Reads `HTTP/1.1 200 OK` and the `Name: value` lines after it.
fn parse_head(head: &str) -> std::io::Result<(StatusCode, Vec<(HeaderName, HeaderValue)>)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut lines = head.lines().map(str::trim_end).filter(|l| !l.is_empty());
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| bad(line))?;
        let name = HeaderName::try_from(name.trim()).map_err(|_| bad(line))?;
        if STACK_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::try_from(value.trim()).map_err(|_| bad(line))?;
        headers.push((name, value));
    }
    Ok((status, headers))
}
