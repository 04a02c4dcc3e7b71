#![allow(clippy::panic, clippy::expect_used)]
//! An admin API client for tests that checks every response against the OpenAPI document's schema
//! for its status.

use serde_json::Value;

use crate::harness::Gateway;
use crate::schema::{response_schema, validate};

pub struct AdminClient<'a> {
    pub gateway: &'a Gateway,
    /// The admin key (empty: none sent).
    pub key: String,
    /// The gateway's `/openapi.json`.
    pub doc: Value,
}

impl AdminClient<'_> {
    /// Sends a JSON request (`doc_path` is the documented path template) and validates the answer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        doc_path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = self.request(method, path);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        self.send(request, method, path, doc_path).await
    }

    /// Sends a prepared request (e.g. a multipart body) and validates the answer.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        path: &str,
        doc_path: &str,
    ) -> (u16, Value) {
        let request = if self.key.is_empty() {
            request
        } else {
            request.bearer_auth(&self.key)
        };
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path} {status}: not JSON: {text}"));
        assert!(status < 500, "{method} {path} {status}: {text}");
        let schema = response_schema(&self.doc, doc_path, method, status);
        if let Err(err) = validate(
            &self.doc,
            schema,
            &json,
            &format!("{method} {path} {status}"),
        ) {
            panic!("{err}");
        }
        (status, json)
    }

    /// A request to `path` on the gateway (no credentials yet).
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let client = reqwest::Client::new();
        let url = format!("{}{path}", self.gateway.base_url);
        match method {
            "get" => client.get(url),
            "post" => client.post(url),
            "patch" => client.patch(url),
            "put" => client.put(url),
            "delete" => client.delete(url),
            other => panic!("unsupported method {other}"),
        }
    }
}
