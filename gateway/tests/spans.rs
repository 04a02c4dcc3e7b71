#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The span tree of one question, captured from the router without a socket. Alone in its test
//! binary: tracing caches which callsites are enabled process-wide, so a test running beside it
//! without a subscriber could turn the spans off.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, field};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

mod common;
use common::{ask, call, server_with_document};

/// A span as the capturing layer saw it.
#[derive(Debug, Clone)]
struct SeenSpan {
    id: u64,
    name: &'static str,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
}

/// Records every span, its parent and its fields (also those recorded later).
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SeenSpan>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.id().into_u64());
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let span = SeenSpan {
            id: id.into_u64(),
            name: attrs.metadata().name(),
            parent,
            fields,
        };
        self.0.lock().unwrap().push(span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some(span) = spans.iter_mut().rev().find(|s| s.id == id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
}

impl Spans {
    /// The spans named `name` whose parent chain reaches the span `ancestor`.
    fn under(&self, ancestor: u64, name: &str) -> Vec<SeenSpan> {
        let spans = self.0.lock().unwrap().clone();
        let reaches = |span: &SeenSpan| {
            let mut parent = span.parent;
            while let Some(id) = parent {
                if id == ancestor {
                    return true;
                }
                parent = spans
                    .iter()
                    .rev()
                    .find(|s| s.id == id)
                    .and_then(|s| s.parent);
            }
            false
        };
        spans
            .iter()
            .filter(|s| s.name == name && reaches(s))
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn a_question_is_one_request_span_with_a_child_per_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (server, key) = server_with_document(&dir).await;
    let spans = Spans::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));

    let (status, body) = call(
        &server,
        ask(Some(&key), r#"{"question":"How do I connect to the VPN?"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let requests: Vec<SeenSpan> = spans
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.name == "request")
        .cloned()
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.fields["request_id"], "req-42");
    assert_eq!(request.fields["channel"], "rest");
    assert_eq!(request.fields["tenant"], "acme");
    assert_eq!(request.fields["profile"], "ragway");
    for stage in ["auth", "limits", "cache", "retrieve", "ground", "llm"] {
        assert_eq!(
            spans.under(request.id, stage).len(),
            1,
            "one `{stage}` span under the request: {:?}",
            spans.0.lock().unwrap()
        );
    }
    assert_eq!(
        spans.under(request.id, "retrieve")[0].fields["backend"],
        "edge"
    );
}
