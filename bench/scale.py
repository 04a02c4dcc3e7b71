#!/usr/bin/env python3
"""The scale benchmark of issue 17, one command: ragway next to the peers, same run, same machine.

    bench/scale                      # everything: build, corpus, ingest, index, load, soak, report
    bench/scale --quick              # short load lines and a 3-minute soak (to try the harness)

Steps (each prints what it does; figures go to bench/results/<stamp>/ and docs/BENCHMARKS.md):
1. builds the **production** profile (release with link-time optimization: what the Dockerfile ships) of
   `ragway` and the two bench programs (`loadgen`, `fake_openai`) into their own target directory;
2. builds the corpus (bench/peers/corpus: PostgreSQL + Python manuals + SciFact, 7 tenants);
3. ingest, dense excluded: `ragway ingest` against LlamaIndex's IngestionPipeline on the same tenant folder;
4. the serving index: all tenants with BM25 + 384-d dense vectors from the fake embeddings endpoint, the Python
   manual restricted to a group (document ACLs on a share of the documents);
5. `ragway serve` on it (cold start to ready is timed), LiteLLM's proxy on the same fake LLM;
6. load: a closed loop, then open loop at 50, 100, 500, 1,000, 2,000 requests/s, for (a) the fake LLM directly,
   (b) ragway cache misses, (c) ragway cache hits, (d) LiteLLM;
7. the soak, on a freshly started ragway: a steady mixed load with a sync every few minutes, RSS and p99 every
   10 s; RSS growth is measured after its warm-up (`--soak-warmup-minutes`, while the caches fill);
8. the table (stdout and docs/BENCHMARKS.md between its markers) and PNG plots.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
MARK_BEGIN = "<!-- scale:begin (written by bench/scale; do not edit by hand) -->"
MARK_END = "<!-- scale:end -->"

# Questions over the corpus (PostgreSQL and SciFact); `{n}` makes each one unique (a cache miss).
MISS_QUESTIONS = [
    "How do I configure continuous archiving of the write-ahead log? (case {n})",
    "What does VACUUM FULL lock and when should it be avoided? (case {n})",
    "How are partitioned tables pruned at query time? (case {n})",
    "Which isolation level prevents serialization anomalies? (case {n})",
    "Does vitamin D supplementation reduce the risk of fractures? (case {n})",
    "How is logical replication set up between two servers? (case {n})",
]
HIT_QUESTIONS = [q.replace(" (case {n})", "") for q in MISS_QUESTIONS]
# 50/s: the rate a LiteLLM proxy on these two cores still sustains (the peers' ratio needs both lines to keep up).
RATES = [50, 100, 500, 1000, 2000]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, check=True, text=True, **kw)


class Server:
    """A child process in its own process group, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, name: str, cmd: list[str], env: dict | None = None, log_dir: Path | None = None):
        self.name = name
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"{name}.log"
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def first_line(self, timeout: float = 180.0) -> str:
        import select

        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError(f"{self.name} printed nothing in {timeout:.0f} s; see {self.log_path}")
        line = self.proc.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"{self.name} exited ({self.proc.poll()}); see {self.log_path}")
        return line

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.log_file.close()


def timed_child(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Runs a command to its end: (seconds, peak RSS in MB of that process, stdout)."""
    log("$ " + " ".join(str(c) for c in cmd))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed ({status}):\n{out[-2000:]}")
    return seconds, usage.ru_maxrss / 1024.0, out


def wait_http(url: str, timeout: float = 60.0, interval: float = 0.005) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"{url} not ready within {timeout:.0f} s")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cache = Path(args.cache)
        self.target = Path(args.target_dir)
        self.out = ROOT / "bench" / "results" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out.mkdir(parents=True, exist_ok=True)
        self.servers: list[Server] = []
        self.results: dict = {"started": datetime.datetime.now().isoformat(timespec="seconds")}

    # -- 1. build ------------------------------------------------------------------------------
    def build(self) -> None:
        profile = "production"
        if self.args.prebuilt:
            built = Path(self.args.prebuilt)
            profile = f"prebuilt binaries from {built} (not a benchmark figure unless production)"
        else:
            env = {**os.environ, "CARGO_TARGET_DIR": str(self.target)}
            run(
                ["cargo", "build", "--profile", "production", "--locked", "-p", "ragway-gateway", "--bin",
                 "ragway", "-p", "ragway-tests", "--example", "loadgen", "--example", "fake_openai"],
                cwd=ROOT, env=env,
            )
            built = self.target / "production"
        self.ragway = built / "ragway"
        self.loadgen = built / "examples" / "loadgen"
        self.fake = built / "examples" / "fake_openai"
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, text=True,
                               capture_output=True).stdout.strip()
        self.results["build"] = {"profile": profile, "commit": commit + ("+changes" if dirty else "")}

    # -- 2. corpus ----------------------------------------------------------------------------
    def corpus(self) -> None:
        self.python = subprocess.run([str(PEERS / "setup")], check=True, text=True,
                                     capture_output=True).stdout.strip().splitlines()[-1]
        self.corpus_dir = self.cache / "corpus"
        if not (self.corpus_dir / "corpus.json").exists():
            run([str(PEERS / "corpus"), str(self.corpus_dir)])
        self.tenants = sorted(p.name for p in self.corpus_dir.iterdir() if p.name.startswith("tenant-"))
        self.corpus_figures = json.loads((self.corpus_dir / "corpus.json").read_text())
        self.results["corpus"] = self.corpus_figures.get("total", {})

    def ragway_cmd(self, data_dir: Path, config: Path, *rest: str) -> list[str]:
        return [str(self.ragway), "--config", str(config), "--data-dir", str(data_dir), *rest]

    def write_config(self, path: Path, data_dir: Path, *, addr: str = "127.0.0.1:0", dense: bool,
                     extra: str = "") -> Path:
        fake = getattr(self, "fake_url", "")
        text = f'addr = "{addr}"\ndata_dir = "{data_dir}"\n'
        text += (
            "[limits]\nrequests_per_minute = 60000000\nburst = 1000000\n"
            "user_requests_per_minute = 60000000\nuser_burst = 1000000\n"
            # Limits stay on (their checks are part of every request) but far above the load.
            "tokens_per_minute = 1000000000000\nmax_concurrent_streams = 1000000\n"
        )
        if fake:
            text += (
                f'[llm]\nbase_url = "{fake}"\nmodel = "gpt-4o-mini"\napi_key_env = "BENCH_OPENAI_KEY"\n'
            )
        if dense:
            text += (
                f'[embeddings]\nbase_url = "{fake}"\nmodel = "bench-bow-384"\ndimensions = 384\n'
                'api_key_env = "BENCH_OPENAI_KEY"\n'
            )
        path.write_text(text + extra)
        return path

    # -- 3. ingest, dense excluded ------------------------------------------------------------
    def ingest(self) -> None:
        folder = self.corpus_dir / self.tenants[0]
        mb = dir_bytes(folder) / 1e6
        rows = []
        for attempt in range(self.args.ingest_runs):
            data = Path(tempfile.mkdtemp(prefix="ragway-ingest-", dir=self.cache))
            config = self.write_config(data / "ragway.toml", data, dense=False)
            run(self.ragway_cmd(data, config, "tenants", "create", "bench"), capture_output=True)
            seconds, rss, out = timed_child(self.ragway_cmd(data, config, "ingest", "--tenant", "bench",
                                                            "--lang", "en", str(folder)),
                                            env={"RAGWAY_LOG": "warn"})
            chunks = int(m.group(1)) if (m := re.search(r"(\d[\d,]*) chunks", out.replace(",", ""))) else 0
            rows.append({"seconds": seconds, "mb_per_s": mb / seconds, "chunks": chunks,
                         "chunks_per_s": chunks / seconds, "peak_rss_mb": rss})
            shutil.rmtree(data, ignore_errors=True)
        llama = []
        for attempt in range(self.args.ingest_runs):
            seconds, rss, out = timed_child([self.python, str(PEERS / "llamaindex_ingest.py"), str(folder)])
            report = json.loads(out.strip().splitlines()[-1])
            llama.append({"seconds": report["seconds_total"], "mb_per_s": report["mb_per_s"],
                          "chunks": report["chunks"], "chunks_per_s": report["chunks_per_s"],
                          "peak_rss_mb": report["peak_rss_mb"]})
        # The folder's text once extracted (tags, markup and PDF structure gone): what both tools chunk.
        text_mb = self.corpus_figures.get("per_tenant", {}).get("text_bytes", 0) / 1e6 or None
        self.results["ingest"] = {"folder": folder.name, "mb": mb, "text_mb": text_mb, "ragway": rows,
                                  "llamaindex": llama}
        best = lambda rs: max(rs, key=lambda r: r["mb_per_s"])  # noqa: E731
        log(f"ingest: ragway {best(rows)['mb_per_s']:.2f} MB/s, LlamaIndex {best(llama)['mb_per_s']:.2f} MB/s")

    # -- 4. the serving index -----------------------------------------------------------------
    def index(self) -> None:
        self.data = self.cache / "serving"
        stamp = self.data / "built-by"
        wanted = f"{self.results['build']['commit'].split('+')[0]} {len(self.tenants)} tenants"
        self.config = self.write_config(self.cache / "serving.toml", self.data, dense=True,
                                        extra=f'[sources]\nfolder_roots = ["{self.cache / "soak"}"]\n')
        if stamp.exists() and (self.args.reuse_index or stamp.read_text() == wanted):
            log(f"reusing the serving index in {self.data} ({stamp.read_text()})")
        else:
            shutil.rmtree(self.data, ignore_errors=True)
            self.data.mkdir(parents=True)
            started = time.monotonic()
            for tenant in self.tenants:
                run(self.ragway_cmd(self.data, self.config, "tenants", "create", tenant), capture_output=True)
                # The Python manual is for engineers only: ACLs on about a third of the chunks.
                run(self.ragway_cmd(self.data, self.config, "ingest", "--tenant", tenant,
                                    "--acl", "python/**=engineering",
                                    str(self.corpus_dir / tenant)),
                    env={**os.environ, "RAGWAY_LOG": "warn", "BENCH_OPENAI_KEY": "sk-bench"},
                    capture_output=True)
            stamp.write_text(wanted)
            self.results["index_build_s"] = time.monotonic() - started
        self.soak_docs = self.cache / "soak"
        self.soak_docs.mkdir(exist_ok=True)
        self.rewrite_soak_docs(0)
        run(self.ragway_cmd(self.data, self.config, "ingest", "--tenant", self.tenants[0], "--source", "soak",
                            str(self.soak_docs)),
            env={**os.environ, "RAGWAY_LOG": "warn", "BENCH_OPENAI_KEY": "sk-bench"}, capture_output=True)
        keys = run(self.ragway_cmd(self.data, self.config, "keys", "create", "--tenant", self.tenants[0],
                                   "--user", "bench@example.com", "--group", "support"),
                   capture_output=True).stdout
        self.key = re.search(r"rgw_\S+", keys).group(0)
        admin = run(self.ragway_cmd(self.data, self.config, "admin-keys", "create"), capture_output=True).stdout
        self.admin_key = re.search(r"rgwadm_\S+", admin).group(0)
        self.results["index"] = {"data_mb": dir_bytes(self.data) / 1e6}

    def rewrite_soak_docs(self, round_: int) -> None:
        for i in range(20):
            (self.soak_docs / f"notice-{i:02}.md").write_text(
                f"# Maintenance notice {i}\n\nRound {round_}: the archive server of plant {i} restarts "
                f"at {round_ % 24:02}:00. Replication lag alarms during the window are expected.\n"
            )

    # -- 5. servers ---------------------------------------------------------------------------
    def start_fake(self) -> None:
        fake = Server("fake-openai", [str(self.fake), "384", str(self.args.llm_latency_ms),
                                      str(self.args.llm_chunk_ms)], log_dir=self.out)
        self.servers.append(fake)
        self.fake_url = fake.first_line()
        self.fake_pid = fake.pid
        log(f"fake OpenAI at {self.fake_url}")

    def start_ragway(self, name: str = "ragway") -> None:
        port = free_port()
        self.write_config(self.config, self.data, addr=f"127.0.0.1:{port}", dense=True,
                          extra=f'[sources]\nfolder_roots = ["{self.soak_docs}"]\n')
        started = time.monotonic()
        server = Server(name, self.ragway_cmd(self.data, self.config, "serve"),
                        env={"BENCH_OPENAI_KEY": "sk-bench", "RAGWAY_LOG": "warn"}, log_dir=self.out)
        self.servers.append(server)
        self.ragway_server = server
        self.ragway_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.ragway_url}/readyz", interval=0.002)
        self.results["cold_start_s"] = time.monotonic() - started
        self.ragway_pid = server.pid
        log(f"ragway ready in {self.results['cold_start_s']:.3f} s at {self.ragway_url}")
        self.results["memory_at_start"] = memory_breakdown(self.ragway_pid, self.data)

    def restart_ragway(self) -> None:
        """A fresh ragway for the soak: the load lines before it (their overload rows among them) leave
        pages in the allocator that a server at the soak's steady rate would never have needed, and the soak
        measures growth, not what an earlier line left behind."""
        self.ragway_server.stop()
        self.servers.remove(self.ragway_server)
        first = self.results["cold_start_s"], self.results["memory_at_start"]
        self.start_ragway("ragway-soak")
        self.results["soak_memory_at_start"] = self.results["memory_at_start"]
        self.results["cold_start_s"], self.results["memory_at_start"] = first

    def start_litellm(self) -> None:
        port = free_port()
        server = Server("litellm", [str(PEERS / "litellm"), "--upstream", self.fake_url, "--port", str(port),
                                    "--workers", str(self.args.litellm_workers)], log_dir=self.out)
        self.servers.append(server)
        self.litellm_url = server.first_line()
        self.litellm_pid = server.pid
        log(f"LiteLLM at {self.litellm_url}")

    # -- 6. load ------------------------------------------------------------------------------
    def lines(self) -> dict[str, dict]:
        return {
            "a: fake LLM directly": {"url": f"{self.fake_url}/chat/completions", "key": "sk-bench",
                                     "questions": MISS_QUESTIONS, "pids": [self.fake_pid]},
            # ragway's `model` is a copilot profile: `ragway` is the default one.
            "b: ragway, cache miss": {"url": f"{self.ragway_url}/v1/chat/completions", "key": self.key,
                                      "model": "ragway", "questions": MISS_QUESTIONS,
                                      "pids": [self.ragway_pid, self.fake_pid]},
            "c: ragway, cache hit": {"url": f"{self.ragway_url}/v1/chat/completions", "key": self.key,
                                     "model": "ragway", "questions": HIT_QUESTIONS,
                                     "pids": [self.ragway_pid, self.fake_pid]},
            "d: LiteLLM proxy": {"url": f"{self.litellm_url}/chat/completions", "key": "sk-ragway-bench",
                                 "questions": MISS_QUESTIONS, "pids": [self.litellm_pid, self.fake_pid]},
            # The floor under (c): what any request costs through this HTTP stack on this machine
            # (authenticated, routed, a small JSON answer), next to which a hit's p99 is read.
            "e: ragway floor, GET /v1/models": {"url": f"{self.ragway_url}/v1/models", "key": self.key,
                                                "get": True, "questions": [], "pids": [self.ragway_pid]},
        }

    def loadgen_run(self, label: str, line: dict, mode: list[str], duration: float,
                    extra: list[str] | None = None) -> list[dict]:
        cmd = [str(self.loadgen), "--url", line["url"], "--key", line["key"], "--label", label,
               "--duration", str(duration), "--warmup", str(self.args.warmup), "--human",
               "--model", line.get("model", "gpt-4o-mini"), *mode]
        for q in line["questions"]:
            cmd += ["--question", q]
        if line.get("get"):
            cmd.append("--get")
        for pid in line["pids"]:
            cmd += ["--pid", str(pid)]
        out = subprocess.run(cmd + (extra or []), check=True, text=True, capture_output=True)
        sys.stderr.write(out.stderr)
        return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]

    def load(self) -> None:
        """Each line's closed loop (its capacity) comes first, then the open-loop rates: the highest rates
        overload a server on purpose, and a server just out of an overload runs ≈ 4 % slower a request for
        minutes afterwards (allocator pages spread by the burst; docs/BENCHMARKS.md), which is a figure of
        its own, not the capacity of the server."""
        rows = []
        for label, line in self.lines().items():
            closed = self.loadgen_run(label, line, ["--mode", "closed", "--concurrency",
                                                    str(self.args.concurrency)], self.args.duration)[-1]
            time.sleep(2)
            saturated_at = None
            for rate in RATES:
                if saturated_at is not None:
                    rows.append({"label": label, "mode": "open", "target_rate": rate, "skipped":
                                 f"saturated at {saturated_at}/s"})
                    continue
                report = self.loadgen_run(label, line, ["--mode", "open", "--rate", str(rate)],
                                          self.args.duration)[-1]
                rows.append(report)
                if report["achieved_rps"] < rate * 0.9 or report["errors"] > report["requests"] * 0.01 \
                        or report["latency_ms"]["p99"] > 1000:
                    saturated_at = rate
                time.sleep(2)  # let queues drain before the next row
            rows.append(closed)  # the table lists it after the rates, as before
        self.results["load"] = rows

    # -- 7. soak ------------------------------------------------------------------------------
    def soak(self) -> None:
        minutes = self.args.soak_minutes
        if minutes <= 0:
            return
        line = self.lines()["b: ragway, cache miss"]
        # Three hits to one miss; a sync of the soak source every `sync_every` seconds.
        mixed = dict(line, questions=HIT_QUESTIONS[:3] + [MISS_QUESTIONS[0]])
        cmd_extra = ["--report-every", "10"]
        result: dict = {"minutes": minutes, "rate": self.args.soak_rate, "syncs": [],
                        "warmup_minutes": min(self.args.soak_warmup_minutes, minutes / 2)}
        import threading

        stop = threading.Event()

        def syncer() -> None:
            round_ = 1
            while not stop.wait(self.args.sync_every):
                self.rewrite_soak_docs(round_)
                try:
                    self.trigger_soak_sync()
                    result["syncs"].append(round_)
                except Exception as err:  # noqa: BLE001 — a failed sync is reported, the soak goes on
                    log(f"soak sync {round_} failed: {err}")
                round_ += 1

        thread = threading.Thread(target=syncer, daemon=True)
        thread.start()
        reports = self.loadgen_run("soak", mixed, ["--mode", "open", "--rate", str(self.args.soak_rate)],
                                   minutes * 60, cmd_extra)
        stop.set()
        result["series"] = [r for r in reports if r.get("interval")]
        result["final"] = reports[-1]
        self.results["soak"] = result

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(f"{self.ragway_url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {self.admin_key}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return json.loads(text) if text.strip().startswith(("{", "[")) else {}

    def trigger_soak_sync(self) -> None:
        tenant = self.tenants[0]
        sources = self.admin("GET", f"/api/v1/admin/tenants/{tenant}/sources")
        items = sources.get("sources", sources) if isinstance(sources, dict) else sources
        source = next(s for s in items if s.get("name") == "soak")
        self.admin("POST", f"/api/v1/admin/tenants/{tenant}/sources/{source['id']}/sync", {})

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cache_default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ragway-bench"
    parser.add_argument("--cache", default=str(cache_default), help="corpus, indexes (default: %(default)s)")
    parser.add_argument("--target-dir", default=str(cache_default / "target"),
                        help="cargo target directory of the production build (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="5 s load lines, a 3-minute soak, one ingest run")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per load line")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32, help="closed loop: requests in flight")
    parser.add_argument("--ingest-runs", type=int, default=2)
    parser.add_argument("--soak-minutes", type=float, default=30.0)
    parser.add_argument("--soak-rate", type=float, default=200.0)
    parser.add_argument("--soak-warmup-minutes", type=float, default=5.0,
                        help="soak minutes before RSS growth is measured: the caches fill to their bounds")
    parser.add_argument("--sync-every", type=float, default=180.0, help="seconds between soak syncs")
    parser.add_argument("--llm-latency-ms", type=int, default=20, help="the fake LLM's time to first token")
    parser.add_argument("--llm-chunk-ms", type=int, default=0, help="the fake LLM's delay between chunks")
    parser.add_argument("--litellm-workers", type=int, default=1)
    parser.add_argument("--prebuilt", help="use these binaries (ragway, examples/loadgen, examples/fake_openai) "
                        "instead of building the production profile")
    parser.add_argument("--reuse-index", action="store_true", help="keep the serving index whatever built it")
    parser.add_argument("--skip", action="append", default=[], choices=["ingest", "load", "soak", "litellm"])
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/BENCHMARKS.md")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.soak_minutes, args.ingest_runs, args.sync_every = 5.0, 3.0, 1, 60.0

    bench = Bench(args)
    try:
        bench.build()
        bench.corpus()
        if "ingest" not in args.skip:
            bench.ingest()
        bench.start_fake()
        bench.index()
        bench.start_ragway()
        if "litellm" not in args.skip:
            bench.start_litellm()
        if "load" not in args.skip:
            bench.load()
        if "soak" not in args.skip:
            if "load" not in args.skip:
                bench.restart_ragway()
            bench.soak()
        bench.results["rss_after_mb"] = rss_mb(bench.ragway_pid)
        bench.results["memory_after"] = memory_breakdown(bench.ragway_pid, bench.data)
    finally:
        bench.stop_all()
        (bench.out / "results.json").write_text(json.dumps(bench.results, indent=1))
    from report import write_report  # bench/report.py: the table, the plots, docs/BENCHMARKS.md

    write_report(bench.results, bench.out, None if args.no_docs else ROOT / "docs" / "BENCHMARKS.md",
                 " ".join(["bench/scale", *sys.argv[1:]]))
    return 0


def memory_breakdown(pid: int, data: Path) -> dict:
    """Where a process's resident memory is (MB): anonymous (heap, in-RAM index parts) and file-backed pages
    (memory maps of the index files, which the kernel may drop and read again), the latter per kind of file
    under the data directory (from /proc/PID/smaps)."""
    out: dict = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) / 1024.0
        files: dict[str, float] = {}
        current = None
        for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            fields = line.split()
            if fields and "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
                path = fields[5] if len(fields) > 5 else ""
                current = file_kind(path, str(data)) if path.startswith("/") else None
            elif current and fields and fields[0] == "Rss:":
                files[current] = files.get(current, 0.0) + int(fields[1]) / 1024.0
        out["files"] = {k: round(v, 1) for k, v in sorted(files.items(), key=lambda kv: -kv[1]) if v >= 1}
    except OSError:
        pass
    return out


def file_kind(path: str, data: str) -> str:
    """A mapped file's kind: `wal`, `segment:<first directory inside the segment>`, or `other`."""
    if not path.startswith(data):
        return "binary and libraries"
    parts = Path(path).relative_to(data).parts
    if "wal" in parts:
        return "wal"
    if "segments" in parts:
        rest = parts[parts.index("segments") + 2:]
        return "segment:" + (rest[0] if len(rest) > 1 else "files")
    return "other data files"


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
