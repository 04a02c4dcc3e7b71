//! A static web site on a local address, for crawl tests and the crawl benchmark: pages served
//! from memory with ETag / Last-Modified and conditional GET (304), redirects, robots.txt and
//! sitemaps as plain pages, unknown paths 404, and a log of every request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
enum Content {
    Page {
        content_type: String,
        body: Vec<u8>,
        etag: String,
        last_modified: String,
    },
    Redirect {
        status: u16,
        location: String,
    },
    /// `size` bytes of text sent chunked, without a Content-Length.
    Stream {
        size: usize,
    },
    /// Headers at once, then a body that never finishes (a hung server).
    Hang,
}

/// One request the site answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub path: String,
    pub status: u16,
    pub user_agent: String,
}

#[derive(Default)]
struct Site {
    content: Mutex<HashMap<String, Content>>,
    log: Mutex<Vec<Logged>>,
    versions: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub struct StaticSite {
    pub addr: SocketAddr,
    site: Arc<Site>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StaticSite {
    /// Serves on `bind` (e.g. `127.0.0.1:0`).
    pub async fn start(bind: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let site = Arc::new(Site::default());
        let router = axum::Router::new().fallback(serve).with_state(site.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(%err, "static site stopped");
            }
        });
        Ok(Self { addr, site, server })
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Publishes (or replaces) a page; a new body gets a new ETag and Last-Modified.
    pub fn put(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        let body = body.into();
        let version = self.site.versions.fetch_add(1, Ordering::Relaxed);
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..16]);
        // Distinct per version; the client echoes it back verbatim.
        let last_modified = format!(
            "Sun, 01 Nov 2026 {:02}:{:02}:{:02} GMT",
            (version / 3600) % 24,
            (version / 60) % 60,
            version % 60
        );
        self.set(
            path,
            Content::Page {
                content_type: content_type.to_owned(),
                body,
                etag,
                last_modified,
            },
        );
    }

    pub fn put_html(&self, path: &str, html: &str) {
        self.put(path, "text/html; charset=utf-8", html);
    }

    pub fn redirect(&self, path: &str, status: u16, location: &str) {
        self.set(
            path,
            Content::Redirect {
                status,
                location: location.to_owned(),
            },
        );
    }

    /// A page of `size` bytes sent in chunks, with no Content-Length to refuse it by.
    pub fn put_stream(&self, path: &str, size: usize) {
        self.set(path, Content::Stream { size });
    }

    /// A page whose body never completes.
    pub fn put_hanging(&self, path: &str) {
        self.set(path, Content::Hang);
    }

    pub fn remove(&self, path: &str) {
        self.lock_content().remove(path);
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.site
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn clear_log(&self) {
        self.site
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The most requests the site had in progress at once.
    pub fn max_in_flight(&self) -> usize {
        self.site.max_in_flight.load(Ordering::Relaxed)
    }

    fn set(&self, path: &str, content: Content) {
        self.lock_content().insert(path.to_owned(), content);
    }

    fn lock_content(&self) -> std::sync::MutexGuard<'_, HashMap<String, Content>> {
        self.site.content.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn serve(State(site): State<Arc<Site>>, request: Request) -> Response {
    let now = site.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    site.max_in_flight.fetch_max(now, Ordering::SeqCst);
    // Long enough for concurrent requests to overlap when the crawler sends them.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let content = site
        .content
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&path)
        .cloned();
    let response = respond(content, request.headers());
    site.in_flight.fetch_sub(1, Ordering::SeqCst);
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    site.log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Logged {
            path,
            status: response.status().as_u16(),
            user_agent,
        });
    response
}

fn respond(content: Option<Content>, headers: &HeaderMap) -> Response {
    match content {
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
        Some(Content::Redirect { status, location }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            (status, [(header::LOCATION, location)]).into_response()
        }
        Some(Content::Stream { size }) => {
            let chunk = vec![b'a'; 64 * 1024];
            let chunks = (0..size.div_ceil(chunk.len()))
                .map(move |_| Ok::<_, std::convert::Infallible>(chunk.clone()));
            let mut response = Body::from_stream(futures::stream::iter(chunks)).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        }
        Some(Content::Hang) => {
            let first =
                futures::stream::iter([Ok::<_, std::convert::Infallible>(b"partial".to_vec())]);
            let body = first.chain(futures::stream::pending());
            let mut response = Body::from_stream(body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        }
        Some(Content::Page {
            content_type,
            body,
            etag,
            last_modified,
        }) => {
            let header_is = |name: header::HeaderName, value: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v == value)
            };
            let not_modified = if headers.contains_key(header::IF_NONE_MATCH) {
                header_is(header::IF_NONE_MATCH, &etag)
            } else {
                header_is(header::IF_MODIFIED_SINCE, &last_modified)
            };
            let validators = [(header::ETAG, etag), (header::LAST_MODIFIED, last_modified)];
            if not_modified {
                return (StatusCode::NOT_MODIFIED, validators).into_response();
            }
            (
                StatusCode::OK,
                validators,
                [(header::CONTENT_TYPE, content_type)],
                body,
            )
                .into_response()
        }
    }
}
