//! A git server speaking smart HTTP on loopback, as a forge does: `git http-backend` (a CGI
//! program) behind a small CGI host that wants a token as the Basic-auth password.
//!
//! The host is written here because no maintained crate hosts CGI programs; it speaks just
//! enough HTTP/1.1 for git clients: keep-alive, `Expect: 100-continue`, request bodies with a
//! length or chunked (libgit2 sends pushes chunked), and answers with a length. Over TLS too
//! (rustls, a certificate for `localhost` made by rcgen), for `https://` upstreams.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;

/// `git http-backend` serving the repositories under a folder, for as long as it lives.
pub struct GitHttp {
    pub port: u16,
    tls: bool,
    stop: Arc<AtomicBool>,
}

impl GitHttp {
    /// Serves the repositories in `root` (`http://127.0.0.1:PORT/<name>.git`) to clients
    /// whose Basic-auth password is `token`.
    pub fn start(root: &Path, token: &str) -> GitHttp {
        GitHttp::serve_on(root, token, None)
    }

    /// [`GitHttp::start`] over TLS (`https://localhost:PORT/<name>.git`); also returns the
    /// server's self-signed certificate, in PEM, for clients to trust.
    pub fn start_tls(root: &Path, token: &str) -> (GitHttp, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let pem = certified.cert.pem();
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
        (GitHttp::serve_on(root, token, Some(Arc::new(config))), pem)
    }

    fn serve_on(root: &Path, token: &str, tls: Option<Arc<rustls::ServerConfig>>) -> GitHttp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let host = Host {
            root: root.to_path_buf(),
            token: token.to_string(),
        };
        let stopped = stop.clone();
        let over_tls = tls.is_some();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (host, tls) = (host.clone(), tls.clone());
                std::thread::spawn(move || {
                    // A client hanging up mid-request is its business.
                    let _ = match tls {
                        Some(config) => rustls::ServerConnection::new(config)
                            .map_err(std::io::Error::other)
                            .and_then(|tls| host.serve(rustls::StreamOwned::new(tls, stream))),
                        None => host.serve(stream),
                    };
                });
            }
        });
        GitHttp {
            port,
            tls: over_tls,
            stop,
        }
    }

    pub fn url(&self, repository: &str) -> String {
        match self.tls {
            true => format!("https://localhost:{}/{repository}", self.port),
            false => format!("http://127.0.0.1:{}/{repository}", self.port),
        }
    }
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[derive(Clone)]
struct Host {
    root: PathBuf,
    token: String,
}

/// One HTTP request as the CGI program needs it.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Host {
    /// Answers the requests of one connection until the client closes it.
    fn serve(&self, stream: impl Read + Write) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream);
        while let Some(request) = read_request(&mut reader)? {
            let response = match self.user(&request) {
                Some(user) => self.run_backend(&request, &user)?,
                None => b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                           Content-Length: 0\r\n\r\n"
                    .to_vec(),
            };
            reader.get_mut().write_all(&response)?;
            reader.get_mut().flush()?;
        }
        Ok(())
    }

    /// The user whose Basic-auth password is the token.
    fn user(&self, request: &Request) -> Option<String> {
        let encoded = request.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
        (password == self.token).then(|| user.to_string())
    }

    /// Runs `git http-backend` on the request (RFC 3875 variables) and turns its CGI answer
    /// into an HTTP response.
    fn run_backend(&self, request: &Request, user: &str) -> std::io::Result<Vec<u8>> {
        let mut command = Command::new("git");
        command
            .arg("http-backend")
            .env("GIT_PROJECT_ROOT", &self.root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.receivepack")
            .env("GIT_CONFIG_VALUE_0", "true")
            .env("REQUEST_METHOD", &request.method)
            .env("PATH_INFO", &request.path)
            .env("QUERY_STRING", &request.query)
            .env("REMOTE_USER", user)
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("CONTENT_LENGTH", request.body.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (header, variable) in [
            ("content-type", "CONTENT_TYPE"),
            // http-backend inflates a gzipped body itself.
            ("content-encoding", "HTTP_CONTENT_ENCODING"),
            ("git-protocol", "HTTP_GIT_PROTOCOL"),
        ] {
            if let Some(value) = request.header(header) {
                command.env(variable, value);
            }
        }
        let mut child = command.spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        let output = std::thread::scope(|scope| {
            // Fed from another thread, so that a large answer never blocks a large request.
            scope.spawn(move || stdin.write_all(&request.body));
            child.wait_with_output()
        })?;
        Ok(cgi_to_http(&output.stdout))
    }
}

/// Reads one request; `None` at the end of the connection.
fn read_request(reader: &mut BufReader<impl Read + Write>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            request
                .headers
                .push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    if request
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        reader.get_mut().flush()?;
    }
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|e| e.eq_ignore_ascii_case("chunked"));
    if chunked {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = request.header("content-length") {
        let mut body = vec![0; length.parse().unwrap_or(0)];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

/// A chunked body (RFC 9112 §7.1), decoded.
fn read_chunked(reader: &mut BufReader<impl Read>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = size.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut end = [0; 2];
        reader.read_exact(&mut end)?;
    }
}

/// A CGI answer (headers, a blank line, the body; the status in a `Status` header) as an
/// HTTP/1.1 response with a length.
fn cgi_to_http(output: &[u8]) -> Vec<u8> {
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| (at, at + 4))
        .or_else(|| {
            output
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|at| (at, at + 2))
        });
    let (head, body) = match split {
        Some((end, start)) => (&output[..end], &output[start..]),
        None => (&output[..0], output),
    };
    let mut status = "200 OK".to_string();
    let mut headers = String::new();
    for line in String::from_utf8_lossy(head).lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value.trim().to_string();
            }
            Some(_) => {
                headers.push_str(line.trim_end());
                headers.push_str("\r\n");
            }
            None => {}
        }
    }
    let mut response = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}
