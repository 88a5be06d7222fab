"""Measure what loading a model costs in resident memory: run in a fresh process, print JSON.

python tests/rss_probe.py gguf PATH CONTEXT   — llama.cpp load + 8 generated tokens
python tests/rss_probe.py onnx DIR            — fastembed (onnxruntime) load + one batch of 32 texts
"""

from __future__ import annotations

import json
import sys

import psutil


def main() -> None:
    kind, path = sys.argv[1], sys.argv[2]
    process = psutil.Process()
    if kind == "gguf":
        import llama_cpp  # imported before the baseline: the library is not the model

        before = process.memory_info().rss
        llm = llama_cpp.Llama(model_path=path, n_ctx=int(sys.argv[3]), n_threads=2, verbose=False)
        llm.create_completion("The capital of France is Paris. " * 75, max_tokens=4, temperature=0)  # a full 512-token micro-batch, as a RAG prompt
    else:
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        before = process.memory_info().rss
        TextEmbedding.add_custom_model(model="probe/onnx", pooling=PoolingType.MEAN, normalization=True,
                                       sources=ModelSource(hf="probe/onnx"), dim=384, model_file="model.onnx")
        model = TextEmbedding("probe/onnx", specific_model_path=path, threads=2)
        list(model.embed(["知识库问答 knowledge base question answering"] * 32, batch_size=32))
    print(json.dumps({"rss_delta_mb": (process.memory_info().rss - before) // (1 << 20)}))


if __name__ == "__main__":
    main()
