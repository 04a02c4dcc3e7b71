#!/usr/bin/env python3
"""Writes ingest/tests/fixtures/minilm-reference.json: sentences with the vectors that
sentence-transformers itself gives them with all-MiniLM-L6-v2 (normalised), the reference the local
embedder's test compares against (cosine >= 0.99).

Run once (it needs sentence-transformers and torch from PyPI, ~1 GB):
    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
    scripts/fetch-minilm                       # the model directory, verified by SHA-256
    /tmp/st/bin/python scripts/reference-vectors.py ~/.cache/ragway/models/all-MiniLM-L6-v2
"""
import json
import pathlib
import sys

import sentence_transformers
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "How do I connect to the VPN from home?",
    "The crane must be inspected before every shift.",
    "Vitamin D supplementation reduces the risk of fractures in older adults.",
    "Expense reports are due within 30 days of travel.",
    "¿Cómo me conecto a la VPN desde casa?",
    "Los viáticos en Monterrey son de 90 dólares por día.",
    "a",
]

model_dir = sys.argv[1] if len(sys.argv) > 1 else "sentence-transformers/all-MiniLM-L6-v2"
model = SentenceTransformer(model_dir, device="cpu")
vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
out = pathlib.Path(__file__).resolve().parent.parent / "ingest/tests/fixtures/minilm-reference.json"
rows = [
    json.dumps({"text": text, "vector": [round(float(x), 7) for x in vector]}, ensure_ascii=False)
    for text, vector in zip(SENTENCES, vectors)
]
head = {
    "model": "sentence-transformers/all-MiniLM-L6-v2",
    "generator": f"sentence-transformers {sentence_transformers.__version__} (scripts/reference-vectors.py)",
    "max_seq_length": model.max_seq_length,
}
# One sentence per line keeps the fixture reviewable.
out.write_text(json.dumps(head, ensure_ascii=False)[:-1] + ', "sentences": [\n' + ",\n".join(rows) + "\n]}\n")
print(f"wrote {out}")
