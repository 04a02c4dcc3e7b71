#!/usr/bin/env bash
# Runs ragway's benchmarks; paste the output into docs/BENCHMARKS.md with this command line.
# Usage: bench/run.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."

PGDOC=/usr/share/doc/postgresql-doc-15/html
if [ ! -d "$PGDOC" ]; then
  echo "installing postgresql-doc-15 (the PostgreSQL manual, ~1,100 HTML pages) for the large-corpus benchmark" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq postgresql-doc-15 >/dev/null; else sudo apt-get install -y -qq postgresql-doc-15 >/dev/null; fi
fi

run() { cargo run -q -p ragway-tests --example "$@"; }

echo "== ingest throughput: examples/handbook"
run ingest_throughput examples/handbook
echo
echo "== ingest throughput: PostgreSQL 15 manual"
run ingest_throughput "$PGDOC"
echo
echo "== ingest throughput per format (generated documents)"
run ingest_formats 100
echo
echo "== web crawl of a generated local static site"
run web_crawl 500 4
echo
echo "== ask latency"
run ask_latency 300 50
echo
echo "== OpenAI-compatible streaming latency"
run openai_latency 200 50 2
echo
echo "== answer-cache hits"
run cache_hit 2000 16
echo
echo "== local embedding model throughput (all-MiniLM-L6-v2, 2 cores)"
scripts/fetch-minilm
taskset -c 0,1 cargo run -q -p ragway-tests --example embed_throughput -- 1000 32
echo
echo "== retrieval quality and query latency per mode (SciFact train; see docs/BENCHMARKS.md)"
cargo run -q -p ragway-gateway -- --data-dir target/eval-data eval ../shared/data/scifact --split train \
  --local-model "${HOME}/.cache/ragway/models/all-MiniLM-L6-v2"
echo
echo "== limiter overhead (needs Redis on 127.0.0.1:6379)"
run limiter_overhead 20000
echo
echo "== three replicas sharing one Redis limit (exactness)"
cargo test -q -p ragway-gateway --test replicas -- --nocapture 2>&1 | grep -E "offered|answers spent"
