#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! An open connection costs `ragway serve` next to nothing until it asks something (issue 17): a
//! spike of new connections (clients opening one each while the server is busy) used to cost
//! ≈ 150 KB each — axum re-built the whole router, every route's layer stack, per connection —
//! and the allocator kept that memory after the connections closed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Idle connections opened at once (the open-loop benchmark saw ≈ 700 after a stall).
const CONNECTIONS: usize = 400;
/// What those connections may add to the server's resident memory: a socket registration and a
/// parked task each, a few hundred bytes, rounded up generously for the allocator's pages (the
/// router rebuilt per connection added ≈ 60 MiB here).
const MAX_GROWTH_KIB: u64 = 16 * 1024;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn open_sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            std::fs::read_link(entry.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

fn serve(data: &Path, port: u16) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_ragway"))
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("RAGWAY_LOG", "warn")
            .env_remove("OPENAI_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn idle_connections_cost_the_server_next_to_no_memory() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = serve(data.path(), port);
    let pid = server.0.id();
    let started = Instant::now();
    while !get(port, "/readyz").is_some_and(|answer| answer.starts_with("HTTP/1.1 200")) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Warm the paths a connection takes once, so the figure is what each further one costs.
    for _ in 0..20 {
        get(port, "/healthz").unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = status_kib(pid, "VmRSS");
    let sockets_before = open_sockets(pid);

    let clients: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let started = Instant::now();
    while open_sockets(pid) < sockets_before + CONNECTIONS {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server accepted {} of {CONNECTIONS} connections",
            open_sockets(pid).saturating_sub(sockets_before)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Each accepted connection has had its task spawned and polled once by now.
    std::thread::sleep(Duration::from_millis(300));
    let growth = status_kib(pid, "VmRSS").saturating_sub(before);
    assert!(
        growth <= MAX_GROWTH_KIB,
        "{CONNECTIONS} idle connections grew the server by {growth} KiB (at most {MAX_GROWTH_KIB} KiB)"
    );

    // And they still work: each answers a request.
    for mut client in clients.into_iter().take(5) {
        client
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
