// mimalloc instead of glibc's malloc: a question allocates many small, short-lived buffers
// (payloads, prompt pieces, JSON), and glibc's allocator was ~15 % of the server's CPU under load
// (perf, bench/scale). The library keeps the system allocator; only the binary sets this. Built
// without transparent huge pages (the workspace's `no_thp` feature; docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ragway_gateway::cli::main()
}
