#!/usr/bin/env python3
"""LlamaIndex's ingestion of a folder, timed stage by stage: the ingest peer of ragway's benchmark (issue 17).

    $(bench/peers/setup | tail -1) bench/peers/llamaindex_ingest.py DIR [DIR ...]
        [--chunk-size 512] [--overlap 64] [--no-bm25]
        [--dense-url http://127.0.0.1:PORT/v1 [--dense-model text-embedding-3-small] [--embed-batch 64]
         [--embed-concurrency 4]]
        [--persist-dir DIR] [--workers 1]

What it does, as a LlamaIndex user would, with ragway's settings where ragway has one:
  read+parse  every .html/.htm/.xhtml (BeautifulSoup + lxml, the same extraction rules as ragway's
              ingest/src/parse/html.rs: body only; script/style/nav/footer/aside/form/… and role=navigation
              dropped; block elements end lines, <p> ends a paragraph, table cells joined by " | ", headings kept
              as Markdown-style lines) and .md/.markdown/.mdx/.txt/.text/.rst (read as text) under each DIR
              → one llama_index Document per file, metadata {title, file_path}; only the title is shown to the
              splitter, the embedder and BM25 (ragway prefixes each chunk with its title too);
  split       IngestionPipeline([SentenceSplitter(chunk_size=512, chunk_overlap=64, tokenizer=tiktoken
              cl100k_base)]) — ragway's chunker defaults (ingest/src/chunk.rs: 512 cl100k tokens, 64 overlap);
              the title counts against the 512 as in ragway;
  bm25        BM25Retriever.from_defaults (llama-index-retrievers-bm25 → bm25s, English Snowball stemmer and
              English stopwords: the same kind of index as ragway's, which uses Qdrant's English analyser);
  dense       optional: VectorStoreIndex (in-memory SimpleVectorStore) over the same nodes with OpenAIEmbedding
              pointed at --dense-url (the benchmark's fake embeddings endpoint), ragway's batch size (64) and
              concurrency (4) unless told otherwise;
  persist     optional: both indexes written to --persist-dir (ragway's figures include its disk writes).

Prints one JSON line on stdout (progress on stderr): documents, file bytes, text bytes, chunks, seconds per stage,
total seconds, MB/s (file bytes, as ragway's ingest tables count them), chunks/s and peak RSS in MB
(getrusage ru_maxrss, also recorded after each stage). Validation figures: bench/peers/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

# tiktoken fetches its vocabularies from openaipublic.blob.core.windows.net unless they are cached; llama-index-core
# ships cl100k_base in its package, so point tiktoken there before anything loads an encoding.
if "TIKTOKEN_CACHE_DIR" not in os.environ:
    import importlib.util

    _spec = importlib.util.find_spec("llama_index.core")
    if _spec and _spec.origin:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(Path(_spec.origin).parent / "_static" / "tiktoken_cache")

HTML_EXT = {".html", ".htm", ".xhtml"}
TEXT_EXT = {".md", ".markdown", ".mdx", ".txt", ".text", ".rst"}
# ingest/src/parse/html.rs: SKIPPED and BLOCKS
SKIPPED = {"script", "style", "noscript", "template", "nav", "footer", "aside", "svg", "head", "iframe",
           "button", "select", "form"}
BLOCKS = {"p", "div", "section", "article", "main", "header", "ul", "ol", "li", "table", "tr", "pre",
          "blockquote", "dl", "dt", "dd", "figure", "figcaption", "br", "hr", "address"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
MAX_DEPTH = 256


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def log(msg: str) -> None:
    print(f"llamaindex_ingest: {msg}", file=sys.stderr, flush=True)


def html_to_text(data: bytes) -> tuple[str, str | None]:
    """Readable text of an HTML page and its title, by ragway's rules (see the module docstring)."""
    from bs4 import BeautifulSoup, NavigableString, Tag
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    soup = BeautifulSoup(data, "lxml")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag else ""
    out: list[str] = []

    def newline() -> None:
        if out and not out[-1].endswith("\n"):
            out.append("\n")

    def walk(el: Tag, depth: int, in_pre: bool) -> None:
        if depth > MAX_DEPTH:
            return
        name = el.name
        if name in SKIPPED or el.get("role") == "navigation":
            return
        if name in HEADINGS:
            text = " ".join(el.get_text().split())
            if text:
                out.append(f"\n\n{'#' * HEADINGS[name]} {text}\n\n")
            return
        block = name in BLOCKS
        in_pre = in_pre or name == "pre"
        if block:
            newline()
        if name == "li":
            out.append("- ")
        for child in el.children:
            if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                s = str(child)
                if in_pre:
                    out.append(s)
                else:
                    collapsed = " ".join(s.split())
                    if collapsed:
                        lead = " " if s[:1].isspace() and out and not out[-1].endswith((" ", "\n")) else ""
                        trail = " " if s[-1:].isspace() else ""
                        out.append(lead + collapsed + trail)
            elif isinstance(child, Tag):
                walk(child, depth + 1, in_pre)
        if name in ("td", "th"):
            out.append(" | ")
        if name == "p":
            out.append("\n\n")
        elif block:
            newline()

    root = soup.body or soup
    for child in root.children if root is soup else [root]:
        if isinstance(child, Tag):
            walk(child, 0, False)
    text = "".join(out)
    # collapse runs of blank lines the way a paragraph break reads
    lines = [ln.rstrip() for ln in text.split("\n")]
    cleaned, blank = [], 0
    for ln in lines:
        blank = blank + 1 if not ln.strip() else 0
        if blank <= 1:
            cleaned.append(ln)
    text = "\n".join(cleaned).strip()
    if not title:
        for ln in cleaned:
            if ln.startswith("#"):
                title = ln.lstrip("#").strip()
                break
    return text, title or None


def text_title(text: str) -> str | None:
    for ln in text.splitlines()[:50]:
        if ln.startswith("# "):
            return ln[2:].strip()
    return None


def read_documents(dirs: list[str]):
    from llama_index.core import Document

    docs, file_bytes, text_bytes, skipped = [], 0, 0, 0
    for d in dirs:
        for root, _dirs, files in os.walk(d):
            _dirs.sort()
            for f in sorted(files):
                path = os.path.join(root, f)
                ext = os.path.splitext(f)[1].lower()
                if ext not in HTML_EXT and ext not in TEXT_EXT:
                    skipped += 1
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
                if ext in HTML_EXT:
                    text, title = html_to_text(data)
                else:
                    text = data.decode("utf-8", errors="replace")
                    title = text_title(text)
                if not text.strip():
                    skipped += 1
                    continue
                file_bytes += len(data)
                text_bytes += len(text.encode("utf-8"))
                docs.append(Document(
                    text=text,
                    metadata={"title": title or os.path.splitext(f)[0], "file_path": path},
                    excluded_embed_metadata_keys=["file_path"],
                    excluded_llm_metadata_keys=["file_path"],
                ))
    return docs, file_bytes, text_bytes, skipped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--chunk-size", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--no-bm25", action="store_true")
    ap.add_argument("--dense-url", help="OpenAI-compatible base URL with /v1 for embeddings (enables the dense stage)")
    ap.add_argument("--dense-model", default="text-embedding-3-small",
                    help="model name sent (LlamaIndex accepts OpenAI's names only; the fake ignores it)")
    ap.add_argument("--embed-batch", type=int, default=64, help="texts per embeddings request (ragway: 64)")
    ap.add_argument("--embed-concurrency", type=int, default=4, help="requests in flight (ragway: 4)")
    ap.add_argument("--persist-dir", help="write the BM25 and vector indexes here (timed as 'persist')")
    ap.add_argument("--workers", type=int, default=1, help="IngestionPipeline num_workers (processes)")
    ap.add_argument("--query", default="how do I configure the connection settings",
                    help="one BM25 query run at the end as a sanity check (not part of the totals)")
    args = ap.parse_args()

    # Libraries print (LlamaIndex: "Embeddings have been explicitly disabled…"): stdout carries only the result.
    result_out, sys.stdout = sys.stdout, sys.stderr
    t_start = time.perf_counter()
    from llama_index.core import Settings
    import tiktoken
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter

    Settings.embed_model = None  # never fall back to OpenAI's default embedder
    Settings.llm = None
    enc = tiktoken.get_encoding("cl100k_base")  # loading the vocabulary: a fixed cost, counted with the imports
    enc.encode("warm up")
    import_s = time.perf_counter() - t_start
    stages: dict[str, float] = {}
    rss: dict[str, float] = {"imports": round(peak_rss_mb(), 1)}

    t = time.perf_counter()
    docs, file_bytes, text_bytes, skipped = read_documents(args.dirs)
    stages["read_parse"] = time.perf_counter() - t
    rss["read_parse"] = round(peak_rss_mb(), 1)
    log(f"read {len(docs)} documents ({file_bytes / 1e6:.2f} MB of files, {text_bytes / 1e6:.2f} MB of text, "
        f"{skipped} files skipped) in {stages['read_parse']:.2f} s")

    t = time.perf_counter()
    splitter = SentenceSplitter(chunk_size=args.chunk_size, chunk_overlap=args.overlap, tokenizer=enc.encode)
    pipeline = IngestionPipeline(transformations=[splitter])
    nodes = pipeline.run(documents=docs, num_workers=args.workers if args.workers > 1 else None)
    stages["split"] = time.perf_counter() - t
    rss["split"] = round(peak_rss_mb(), 1)
    log(f"split into {len(nodes)} chunks in {stages['split']:.2f} s")

    retriever = None
    if not args.no_bm25:
        from llama_index.retrievers.bm25 import BM25Retriever

        t = time.perf_counter()
        retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=10)
        stages["bm25_index"] = time.perf_counter() - t
        rss["bm25_index"] = round(peak_rss_mb(), 1)
        log(f"BM25 index in {stages['bm25_index']:.2f} s")

    vindex = None
    if args.dense_url:
        from llama_index.core import VectorStoreIndex
        from llama_index.embeddings.openai import OpenAIEmbedding

        embed = OpenAIEmbedding(model=args.dense_model, api_base=args.dense_url, api_key="sk-bench-dummy",
                                embed_batch_size=args.embed_batch,
                                num_workers=args.embed_concurrency if args.embed_concurrency > 1 else None)
        t = time.perf_counter()
        vindex = VectorStoreIndex(nodes, embed_model=embed, use_async=args.embed_concurrency > 1,
                                  insert_batch_size=2048)
        stages["dense"] = time.perf_counter() - t
        rss["dense"] = round(peak_rss_mb(), 1)
        log(f"dense index in {stages['dense']:.2f} s")

    if args.persist_dir:
        t = time.perf_counter()
        os.makedirs(args.persist_dir, exist_ok=True)
        if retriever is not None:
            retriever.persist(os.path.join(args.persist_dir, "bm25"))
        if vindex is not None:
            vindex.storage_context.persist(persist_dir=os.path.join(args.persist_dir, "vector"))
        stages["persist"] = time.perf_counter() - t
        rss["persist"] = round(peak_rss_mb(), 1)

    total = sum(stages.values())
    hits = None
    if retriever is not None:
        t = time.perf_counter()
        hits = len(retriever.retrieve(args.query))
        query_ms = (time.perf_counter() - t) * 1000
    tokens = [len(enc.encode(n.get_content(metadata_mode="embed"))) for n in nodes[:2000]]
    print(json.dumps({
        "tool": "llamaindex",
        "dirs": args.dirs,
        "chunk_size": args.chunk_size,
        "chunk_overlap": args.overlap,
        "documents": len(docs),
        "files_skipped": skipped,
        "file_bytes": file_bytes,
        "text_bytes": text_bytes,
        "chunks": len(nodes),
        "mean_chunk_tokens_first_2000": round(sum(tokens) / len(tokens), 1) if tokens else 0,
        "seconds": {k: round(v, 3) for k, v in stages.items()},
        "seconds_total": round(total, 3),
        "seconds_imports": round(import_s, 3),
        "mb_per_s": round(file_bytes / 1e6 / total, 3) if total else None,
        "text_mb_per_s": round(text_bytes / 1e6 / total, 3) if total else None,
        "chunks_per_s": round(len(nodes) / total, 1) if total else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_rss_mb_after": rss,
        "bm25_query_hits": hits,
        "bm25_query_ms": round(query_ms, 2) if hits is not None else None,
        "dense_url": args.dense_url,
        "embed_batch": args.embed_batch if args.dense_url else None,
        "embed_concurrency": args.embed_concurrency if args.dense_url else None,
        "workers": args.workers,
    }), file=result_out, flush=True)


if __name__ == "__main__":
    main()
