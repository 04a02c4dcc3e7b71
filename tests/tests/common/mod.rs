#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Helpers shared by the end-to-end tests (HTTP calls and SSE parsing).
#![allow(dead_code)]

use serde_json::Value;

pub async fn post_ask(base: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/api/v1/ask"))
        .json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, json)
}

/// `(event name, data)` of every SSE event in a complete response body.
pub fn parse_sse(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = Some(n.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            let name = name?;
            Some((name, serde_json::from_str(&data).unwrap_or(Value::Null)))
        })
        .collect()
}

pub async fn ask_stream(base: &str, key: &str, question: &str) -> Vec<(String, Value)> {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/ask"))
        .bearer_auth(key)
        .json(&serde_json::json!({"question": question, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    parse_sse(&response.text().await.unwrap())
}

pub fn first_cited_uri(answer: &Value) -> String {
    answer["citations"][0]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A multipart/form-data body: `(part name, filename, bytes)`; text parts have no filename.
pub fn multipart(parts: &[(&str, Option<&str>, Vec<u8>)]) -> (String, Vec<u8>) {
    use std::io::Write;
    let boundary = "ragway-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        )
        .unwrap();
        if let Some(filename) = filename {
            write!(
                body,
                "; filename=\"{filename}\"\r\nContent-Type: application/octet-stream"
            )
            .unwrap();
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A zip archive (deflated) of `(name, bytes)` entries.
pub fn zip_archive(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}
