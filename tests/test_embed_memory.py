"""Embedding memory stays bounded: batches by a token budget, no onnxruntime arena, clear errors.

A child process loads the packaged MiniLM model, then caps its own address space a little above
what it uses (as `ulimit -v` or a container limit would) and embeds 64 chunk-sized texts: fixed
batches of 32 with onnxruntime's arena needed +1.2 GB there and failed inside onnxruntime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO, SAMPLES

from chatchat.retrieval.embeddings import token_batches

CHILD = r"""
import json, resource, sys
import psutil
from chatchat.config import load_settings
from chatchat.retrieval.embeddings import FastEmbedEmbedder
from chatchat.errors import ModelError
from chatchat.models.layout import require_installed
from chatchat.service import Services

services = Services.open(load_settings(home=sys.argv[1]))
entry = services.catalog.embedding("minilm-l6-v2-int8")
embedder = FastEmbedEmbedder(entry, require_installed(services.settings, entry), batch_size=32, threads=2)
embedder.embed(["warm up"])
text = open(sys.argv[2], encoding="utf-8").read()
texts = [text[i:i + 400] for i in range(0, 400 * 64, 400)]
headroom = int(sys.argv[3]) << 20
limit = psutil.Process().memory_info().vms + headroom
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    vectors = embedder.embed(texts)
    print(json.dumps({"rows": len(vectors), "norm": float((vectors[0] ** 2).sum())}))
except ModelError as exc:
    print(json.dumps({"error": exc.message, "key": exc.key}))
"""


def _embed_under_limit(tmp_path, headroom_mb: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "home"), str(SAMPLES / "test.txt"), str(headroom_mb)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_chunks_embed_within_a_few_hundred_mb_of_address_space(tmp_path) -> None:
    result = _embed_under_limit(tmp_path, 600)
    assert result.get("rows") == 64, result
    assert abs(result["norm"] - 1.0) < 1e-3


def test_an_engine_failure_is_a_clear_error(tmp_path) -> None:
    result = _embed_under_limit(tmp_path, 40)  # too little for even one batch
    assert result.get("key") == "embed_failed", result
    assert "minilm-l6-v2-int8" in result["error"] and "embed_batch_size" in result["error"]


def test_token_batches_bound_items_and_padded_tokens() -> None:
    assert token_batches([], 32, 1024) == []
    assert token_batches([10] * 40, 32, 1024) == [range(0, 32), range(32, 40)]
    assert token_batches([256] * 9, 32, 1024) == [range(0, 4), range(4, 8), range(8, 9)]
    assert token_batches([5, 5, 300, 2000], 32, 1024) == [range(0, 3), range(3, 4)]  # a long text goes alone
