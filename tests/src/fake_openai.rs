//! A fake OpenAI-compatible server: `/v1/chat/completions` (streamed and not, in OpenAI's exact
//! chunk format) and `/v1/embeddings`. Its output is deterministic: chat answers name the sources
//! the prompt gave them (`<source n=".." title="..">`), embeddings are hashed bags of words so that
//! texts sharing words are close. Latency and failures can be injected.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Delay before the first byte of every chat response.
    pub latency: Duration,
    /// Delay between streamed chunks.
    pub chunk_delay: Duration,
    pub embedding_dimensions: usize,
    /// Streamed answers stop after this many content chunks, without `finish_reason` or `[DONE]`
    /// (a connection that dies half-way).
    pub cut_stream_after: Option<usize>,
    /// Keeps no copy of chat requests (`chat_requests`/`chat_arrivals` stay empty): a benchmark's
    /// fake serves millions of them and must not grow.
    pub forget_requests: bool,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            embedding_dimensions: 256,
            cut_stream_after: None,
            forget_requests: false,
        }
    }
}

/// A failure to inject into the next requests of one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub status: u16,
    pub retry_after_secs: Option<u64>,
}

#[derive(Default)]
struct Shared {
    chat_requests: Mutex<Vec<Value>>,
    chat_arrivals: Mutex<Vec<std::time::Instant>>,
    /// `(deployment, api-version, api-key)` of Azure-style requests.
    azure_requests: Mutex<Vec<(String, String, String)>>,
    embedding_requests: AtomicUsize,
    embedding_failures: Mutex<Vec<Failure>>,
    chat_failures: Mutex<Vec<Failure>>,
    /// A malformed stream to send instead of the well-formed one (`set_stream_fault`).
    stream_fault: Mutex<Option<StreamFault>>,
    /// The embeddings outage planned or under way (`embeddings_outage_after`).
    embeddings_outage: Mutex<Option<OutagePlan>>,
    /// True while stalled embeddings requests are held (`Outage::Stall`).
    stalled: tokio::sync::watch::Sender<bool>,
    /// True while the server refuses connections (`Outage::Refuse`).
    refusing: tokio::sync::watch::Sender<bool>,
}

#[derive(Clone)]
struct FakeState {
    options: FakeOptions,
    shared: Arc<Shared>,
}

pub struct FakeOpenAi {
    /// Base URL including `/v1`, as clients are configured.
    pub base_url: String,
    /// The server root (Azure-style clients add `/openai/deployments/...`).
    pub root_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.server.abort();
        // Requests held by a stalled outage end with the fake.
        self.shared.stalled.send_replace(false);
    }
}

impl FakeOpenAi {
    pub async fn start(options: FakeOptions) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let state = FakeState {
            options,
            shared: Arc::clone(&shared),
        };
        let router = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(azure_chat),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(serve(listener, router, Arc::clone(&shared)));
        Ok(Self {
            base_url: format!("http://{addr}/v1"),
            root_url: format!("http://{addr}"),
            shared,
            server,
        })
    }

    /// Sends a recorded chat request straight to the fake again and reads the whole answer: the
    /// LLM's own share of an answer's latency, for benchmarks.
    pub async fn replay_chat(&self, client: &reqwest::Client, body: &Value) -> std::time::Duration {
        let started = std::time::Instant::now();
        let response = client
            .post(format!("{}/chat/completions", self.base_url))
            .bearer_auth("sk-bench")
            .json(body)
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => {
                let _ = response.text().await;
            }
            other => tracing::error!(?other, "the replayed chat request failed"),
        }
        started.elapsed()
    }

    pub fn chat_requests(&self) -> Vec<Value> {
        self.shared
            .chat_requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// When each chat request arrived.
    pub fn chat_arrivals(&self) -> Vec<std::time::Instant> {
        self.shared
            .chat_arrivals
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn azure_requests(&self) -> Vec<(String, String, String)> {
        self.shared
            .azure_requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn embedding_requests(&self) -> usize {
        self.shared.embedding_requests.load(Ordering::SeqCst)
    }

    /// The next `count` embedding requests fail with `failure`.
    pub fn fail_embeddings(&self, failure: Failure, count: usize) {
        if let Ok(mut f) = self.shared.embedding_failures.lock() {
            f.extend(std::iter::repeat_n(failure, count));
        }
    }

    /// The next `count` chat requests fail with `failure`.
    pub fn fail_chat(&self, failure: Failure, count: usize) {
        if let Ok(mut f) = self.shared.chat_failures.lock() {
            f.extend(std::iter::repeat_n(failure, count));
        }
    }
}

fn openai_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}})),
    )
        .into_response()
}

/// OpenAI rejects requests without a bearer key; so does the fake.
fn auth_failure(headers: &HeaderMap) -> Option<Response> {
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7);
    (!ok).then(|| {
        openai_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You didn't provide an API key.",
        )
    })
}

fn take_failure(failures: &Mutex<Vec<Failure>>) -> Option<Response> {
    let failure = failures
        .lock()
        .ok()
        .and_then(|mut f| (!f.is_empty()).then(|| f.remove(0)))?;
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if failure.status == 429 {
        "rate_limit_error"
    } else {
        "server_error"
    };
    let mut response = openai_error(status, kind, "injected failure");
    if let Some(value) = failure
        .retry_after_secs
        .and_then(|secs| secs.to_string().parse().ok())
    {
        response.headers_mut().insert("retry-after", value);
    }
    Some(response)
}

/// An attribute value as a reader of the prompt understands it (ragway writes quotes and angle
/// brackets of titles as entities).
fn unescape_attribute(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// `(n, title)` of every `<source n=".." title="..">` in the text.
pub fn sources_in_prompt(prompt: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = prompt;
    while let Some(start) = rest.find("<source n=\"") {
        rest = &rest[start + "<source n=\"".len()..];
        let Some(end) = rest.find('"') else { break };
        let n = rest[..end].to_owned();
        let title = rest
            .find("title=\"")
            .map(|t| &rest[t + "title=\"".len()..])
            .and_then(|t| t.find('"').map(|e| unescape_attribute(&t[..e])))
            .unwrap_or_default();
        found.push((n, title));
    }
    found
}

/// A follow-up rewrite request (ragway's `rewrite.jinja`, English or Spanish): the last user
/// turn plus the follow-up.
fn rewrite_for(prompt: &str) -> Option<String> {
    let follow_up = prompt.lines().find_map(|l| {
        l.strip_prefix("Follow-up question: ")
            .or_else(|| l.strip_prefix("Pregunta de seguimiento: "))
    })?;
    let previous = prompt
        .lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("User: ")
                .or_else(|| l.strip_prefix("Usuario: "))
        })
        .unwrap_or_default();
    Some(format!("{previous} {follow_up}").trim().to_owned())
}

/// The deterministic answer: cites every source it was given, in order (or performs a rewrite).
pub fn answer_for(prompt: &str) -> String {
    if let Some(rewrite) = rewrite_for(prompt) {
        return rewrite;
    }
    let sources = sources_in_prompt(prompt);
    if sources.is_empty() {
        return "I could not find this in the documents.".to_owned();
    }
    let cited: Vec<String> = sources
        .iter()
        .map(|(n, title)| format!("{title} [{n}]"))
        .collect();
    format!("According to your documents: {}.", cited.join("; "))
}

fn last_user_message(body: &Value) -> String {
    let Some(messages) = body["messages"].as_array() else {
        return String::new();
    };
    let Some(user) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &user["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The fake's words (its "tokens"), as slices of the text: the token counts read whole grounded
/// prompts, and a `String` per word made counting them most of the fake's CPU under load
/// (bench/scale runs the fake on the cores it measures ragway on).
fn word_slices(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().nth(2).is_some())
}

/// Azure OpenAI's deployments API: `api-key` header and `api-version` query instead of a bearer key.
async fn azure_chat(
    state: State<FakeState>,
    axum::extract::Path(deployment): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    Json(mut body): Json<Value>,
) -> Response {
    let key = headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some(version) = query.get("api-version").cloned() else {
        return openai_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "Resource not found",
        );
    };
    if key.is_empty() {
        return openai_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Access denied due to missing subscription key.",
        );
    }
    if let Ok(mut requests) = state.shared.azure_requests.lock() {
        requests.push((deployment.clone(), version, key));
    }
    body["model"] = json!(deployment);
    answer_chat(state, body).await
}

async fn chat(state: State<FakeState>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(response) = auth_failure(&headers) {
        return response;
    }
    answer_chat(state, body).await
}

async fn answer_chat(State(state): State<FakeState>, body: Value) -> Response {
    if !state.options.forget_requests {
        if let Ok(mut requests) = state.shared.chat_requests.lock() {
            requests.push(body.clone());
        }
        if let Ok(mut arrivals) = state.shared.chat_arrivals.lock() {
            arrivals.push(std::time::Instant::now());
        }
    }
    if let Some(response) = take_failure(&state.shared.chat_failures) {
        return response;
    }
    let Some(model) = body["model"].as_str().map(str::to_owned) else {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "you must provide a model parameter",
        );
    };
    tokio::time::sleep(state.options.latency).await;
    let prompt = last_user_message(&body);
    let answer = answer_for(&prompt);
    let prompt_tokens = word_slices(&prompt).count();
    let pieces: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": pieces.len(),
        "total_tokens": prompt_tokens + pieces.len(),
    });
    let id = "chatcmpl-fake0001";
    let created = 1_700_000_000u64;
    if body["stream"] != json!(true) {
        return Json(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer, "refusal": null},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": usage,
        }))
        .into_response();
    }
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let chunk = move |delta: Value, finish: Value, usage: Value| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model.clone(),
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if include_usage {
            c["usage"] = usage;
        }
        c
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
        Value::Null,
    )];
    events.extend(
        pieces
            .iter()
            .map(|p| chunk(json!({"content": p}), Value::Null, Value::Null)),
    );
    if let Some(cut) = state.options.cut_stream_after {
        events.truncate(cut + 1);
        let data = events.into_iter().map(|e| e.to_string()).collect();
        return Sse::new(sse_frames(data, state.options.chunk_delay)).into_response();
    }
    events.push(chunk(json!({}), json!("stop"), Value::Null));
    if include_usage {
        let mut last = chunk(json!({}), Value::Null, usage);
        last["choices"] = json!([]);
        events.push(last);
    }
    if let Some(fault) = state.shared.stream_fault.lock().ok().and_then(|f| *f) {
        return malformed_stream(fault, &events);
    }
    let data = events
        .into_iter()
        .map(|e| e.to_string())
        .chain(std::iter::once("[DONE]".to_owned()))
        .collect();
    Sse::new(sse_frames(data, state.options.chunk_delay)).into_response()
}

fn sse_frames(
    data: Vec<String>,
    delay: Duration,
) -> impl futures::Stream<Item = Result<Event, Infallible>> {
    use futures::StreamExt;
    futures::stream::iter(data).then(move |d| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(Event::default().data(d))
    })
}

/// Hashed bag of words, L2-normalised: deterministic and similarity-preserving.
pub fn bow_embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let mut v = vec![0f32; dimensions];
    for word in word_slices(text).map(str::to_lowercase) {
        let hash = Sha256::digest(word.as_bytes());
        let bucket = u32::from_le_bytes([hash[0], hash[1], hash[2], hash[3]]) as usize % dimensions;
        v[bucket] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else {
        v[0] = 1.0;
    }
    v
}

async fn embeddings(
    State(state): State<FakeState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(response) = auth_failure(&headers) {
        return response;
    }
    state
        .shared
        .embedding_requests
        .fetch_add(1, Ordering::SeqCst);
    if let Some(response) = take_failure(&state.shared.embedding_failures) {
        return response;
    }
    if let Some(response) = outage_response(&state.shared).await {
        return response;
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => {
            return openai_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "'input' must be a string or an array of strings",
            );
        }
    };
    let dims = body["dimensions"]
        .as_u64()
        .map_or(state.options.embedding_dimensions, |d| d as usize);
    let tokens: usize = inputs.iter().map(|i| word_slices(i).count()).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": bow_embedding(text, dims)}))
        .collect();
    Json(json!({
        "object": "list", "data": data, "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}

// --- Malformed SSE (issue 18): streams a misbehaving endpoint or proxy could send. ---

/// A malformed answer stream the fake sends instead of the well-formed one. `after` counts the
/// content chunks sent first (0: the fault comes before the first token); what follows the fault
/// is the rest of the answer and `[DONE]`, as a proxy that corrupted one line would send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFault {
    /// A `data:` line that is not JSON.
    NotJson { after: usize },
    /// A JSON chunk of the wrong shape (`choices` is a string, no `id`).
    WrongShape { after: usize },
    /// The connection closes without `[DONE]`: after the whole answer with its `finish_reason`
    /// and usage (`finished`), or after every content chunk but before any `finish_reason`.
    ClosedWithoutDone { finished: bool },
    /// One `data:` line of `bytes` bytes (not JSON) before the line ends.
    HugeLine { after: usize, bytes: usize },
    /// A chunk whose content bytes are not UTF-8.
    InvalidUtf8 { after: usize },
}

impl FakeOpenAi {
    /// Streamed chat answers from now on are malformed as `fault` says (None: well-formed again).
    pub fn set_stream_fault(&self, fault: Option<StreamFault>) {
        if let Ok(mut current) = self.shared.stream_fault.lock() {
            *current = fault;
        }
    }
}

/// `events` (the role chunk, the content chunks, the finish chunk and the usage chunk if any)
/// sent with `fault`, as raw SSE bytes (axum's `Event` cannot carry invalid UTF-8).
fn malformed_stream(fault: StreamFault, events: &[Value]) -> Response {
    let frame = |data: &[u8]| {
        let mut bytes = b"data: ".to_vec();
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\n\n");
        bytes
    };
    let json_frame = |event: &Value| frame(event.to_string().as_bytes());
    let content_chunks = events
        .iter()
        .skip(1)
        .take_while(|e| e["choices"][0]["delta"].get("content").is_some())
        .count();
    // Where the fault goes: after the role chunk and `after` content chunks.
    let split = |after: usize| 1 + after.min(content_chunks);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut with_fault = |after: usize, bad: Vec<u8>| {
        let at = split(after);
        frames.extend(events[..at].iter().map(json_frame));
        frames.push(bad);
        frames.extend(events[at..].iter().map(json_frame));
        frames.push(frame(b"[DONE]"));
    };
    match fault {
        StreamFault::NotJson { after } => {
            with_fault(after, frame(b"this is not JSON {\"choices\": ["));
        }
        StreamFault::WrongShape { after } => {
            let wrong = json!({"object": "chat.completion.chunk", "choices": "Paris is nice"});
            with_fault(after, json_frame(&wrong));
        }
        StreamFault::HugeLine { after, bytes } => {
            let mut line = b"data: ".to_vec();
            line.resize(6 + bytes, b'x');
            line.extend_from_slice(b"\n\n");
            with_fault(after, line);
        }
        StreamFault::InvalidUtf8 { after } => {
            let mut chunk = events[0].clone();
            chunk["choices"][0]["delta"] = json!({"content": "INVALID"});
            let text = chunk.to_string();
            let bad = text.replace("INVALID", "caf\u{1}").into_bytes();
            // `\u{1}` marks where the bytes go: a lone continuation byte and a truncated sequence.
            let bad: Vec<u8> = bad
                .into_iter()
                .flat_map(|b| {
                    if b == 1 {
                        vec![0x80, 0xff, 0xc3]
                    } else {
                        vec![b]
                    }
                })
                .collect();
            with_fault(after, frame(&bad));
        }
        StreamFault::ClosedWithoutDone { finished } => {
            let end = if finished {
                events.len()
            } else {
                1 + content_chunks
            };
            frames.extend(events[..end].iter().map(json_frame));
        }
    }
    let body = futures::stream::iter(
        frames
            .into_iter()
            .map(|f| Ok::<_, Infallible>(axum::body::Bytes::from(f))),
    );
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

// --- Embeddings outages (issue 18): the endpoint going down part-way through a sync. ---

/// How the embeddings endpoint fails once an outage starts (`embeddings_outage_after`), until
/// `end_embeddings_outage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Every embeddings request is answered with this status (e.g. 503), without `Retry-After`.
    Status(u16),
    /// Requests are accepted and never answered (a stalled server): only the client's timeout
    /// ends them.
    Stall,
    /// The server stops listening (the request that starts the outage gets a 503 and its
    /// connection closes): connections are refused.
    Refuse,
}

#[derive(Debug, Clone, Copy)]
struct OutagePlan {
    /// Embeddings requests still answered before the outage starts.
    successes_left: usize,
    outage: Outage,
}

/// Serves `router` on `listener`; while an `Outage::Refuse` lasts the port is closed, then it is
/// bound again (same address) and served as before.
async fn serve(listener: tokio::net::TcpListener, router: Router, shared: Arc<Shared>) {
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    loop {
        let current = match listener.take() {
            Some(current) => current,
            None => match tokio::net::TcpListener::bind(addr).await {
                Ok(bound) => bound,
                Err(err) => {
                    tracing::error!(%err, "the fake OpenAI server cannot listen again");
                    return;
                }
            },
        };
        let mut refusing = shared.refusing.subscribe();
        let closed = async move {
            let _ = refusing.wait_for(|refusing| *refusing).await;
        };
        // As a real API server would: streamed chunks leave at once, not held by Nagle's
        // algorithm for the client's (delayed) acknowledgement.
        let current = axum::serve::ListenerExt::tap_io(current, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        // One router for every connection, as `ragway serve` does (axum otherwise rebuilds the
        // router for each new connection: CPU and memory the benchmarks would charge the fake).
        let service = router.clone().with_state::<()>(()).into_make_service();
        let served = axum::serve(current, service).with_graceful_shutdown(closed);
        if let Err(err) = served.await {
            tracing::error!(%err, "fake OpenAI server stopped");
            return;
        }
        let mut refusing = shared.refusing.subscribe();
        if refusing.wait_for(|refusing| !*refusing).await.is_err() {
            return;
        }
    }
}

impl FakeOpenAi {
    /// After `successes` more answered embeddings requests, the endpoint fails as `outage` says
    /// until [`end_embeddings_outage`](Self::end_embeddings_outage).
    pub fn embeddings_outage_after(&self, successes: usize, outage: Outage) {
        if let Ok(mut plan) = self.shared.embeddings_outage.lock() {
            *plan = Some(OutagePlan {
                successes_left: successes,
                outage,
            });
        }
    }

    /// Whether an outage has started (its first failed request arrived).
    pub fn embeddings_outage_started(&self) -> bool {
        self.shared
            .embeddings_outage
            .lock()
            .is_ok_and(|plan| plan.is_some_and(|p| p.successes_left == 0))
    }

    /// Ends the outage: held requests are released (with a 503), the port listens again (this
    /// returns once it accepts connections).
    pub async fn end_embeddings_outage(&self) {
        if let Ok(mut plan) = self.shared.embeddings_outage.lock() {
            *plan = None;
        }
        self.shared.stalled.send_replace(false);
        self.shared.refusing.send_replace(false);
        let addr = self.root_url.trim_start_matches("http://").to_owned();
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::error!("the fake OpenAI server did not listen again");
    }
}

/// The failure of an embeddings request under the planned outage, if it has started.
async fn outage_response(shared: &Shared) -> Option<Response> {
    let outage = {
        let mut plan = shared.embeddings_outage.lock().ok()?;
        let current = plan.as_mut()?;
        if current.successes_left > 0 {
            current.successes_left -= 1;
            return None;
        }
        current.outage
    };
    let unavailable = || {
        openai_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "injected outage",
        )
    };
    match outage {
        Outage::Status(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Some(openai_error(status, "server_error", "injected outage"))
        }
        Outage::Stall => {
            shared.stalled.send_replace(true);
            let mut stalled = shared.stalled.subscribe();
            let _ = stalled.wait_for(|stalled| !*stalled).await;
            Some(unavailable())
        }
        Outage::Refuse => {
            shared.refusing.send_replace(true);
            let mut response = unavailable();
            response
                .headers_mut()
                .insert("connection", axum::http::HeaderValue::from_static("close"));
            Some(response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources_and_answers_deterministically() {
        let prompt = "<source n=\"1\" title=\"VPN setup\" section=\"x\">a</source>\n<source n=\"2\" title=\"Travel\">b</source>";
        assert_eq!(
            sources_in_prompt(prompt),
            [
                ("1".into(), "VPN setup".into()),
                ("2".into(), "Travel".into())
            ]
        );
        assert_eq!(
            answer_for(prompt),
            "According to your documents: VPN setup [1]; Travel [2]."
        );
    }

    #[test]
    fn similar_texts_have_close_embeddings() {
        let a = bow_embedding("forklift operation safety", 64);
        let b = bow_embedding("safety of forklift operation rules", 64);
        let c = bow_embedding("vacation days policy", 64);
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        assert!(dot(&a, &b) > dot(&a, &c));
    }
}
