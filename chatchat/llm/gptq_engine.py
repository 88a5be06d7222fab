"""GPTQ int4 models (a folder of safetensors + config) through transformers and gptqmodel.

The design card names auto-gptq. auto-gptq 0.7.1 cannot be imported with transformers 5.x
(`no_init_weights` moved) and its kernels are CUDA-only; gptqmodel is its maintained successor
(same GPTQ checkpoint format, CUDA kernels plus a CPU kernel) and is what transformers' GPTQ
support runs on. Install it with the `gptq` extra (CUDA torch for a GPU).

Placement: with CUDA, `device_map="auto"` over the GPUs listed in the entry's `gpus` (else the
first `num_gpus`), each capped at `max_gpu_memory`; without CUDA, the CPU. It cannot call tools.
"""

from __future__ import annotations

import gc
import json
import threading
from pathlib import Path
from typing import Any, Iterator

from chatchat.config import Settings
from chatchat.errors import ChatchatError, ModelError
from chatchat.llm.base import ChatModel, ModelRef, Request, check_fits_memory, cpu_threads
from chatchat.models.catalog import LLMEntry

WEIGHT_SUFFIXES = (".safetensors", ".bin")


def gptq_folder(model_id: str, path: Path) -> Path:
    """The model folder (layout.require_installed gives its first file), checked to hold a GPTQ model."""
    folder = path.parent if path.is_file() else path
    config = folder / "config.json"
    if not config.is_file():
        raise ModelError(f"Model '{model_id}': {folder} has no config.json; reinstall it in the Models tab.")
    try:
        quant = json.loads(config.read_text(encoding="utf-8")).get("quantization_config") or {}
    except (ValueError, OSError) as exc:
        raise ModelError(f"Model '{model_id}': {config} is not valid JSON ({exc}); reinstall it.") from exc
    if quant.get("quant_method") != "gptq":
        raise ModelError(
            f"Model '{model_id}': {folder.name} is not a GPTQ-quantised model (its config.json has no GPTQ "
            "quantization_config). Use engine llama.cpp for GGUF files, or pick a GPTQ model."
        )
    if not any(item.suffix in WEIGHT_SUFFIXES for item in folder.iterdir()):
        raise ModelError(f"Model '{model_id}': {folder} holds no weights (*.safetensors); reinstall it.")
    return folder


def placement(torch: Any, model_id: str, gpus: str | None, num_gpus: int, max_gpu_memory: str | None) -> dict:
    """from_pretrained arguments that put the model on the chosen GPUs, or on the CPU without CUDA."""
    if not torch.cuda.is_available():
        return {"device_map": "cpu", "dtype": torch.float32}
    count = torch.cuda.device_count()
    try:
        ids = [int(part) for part in gpus.split(",")] if gpus else list(range(min(num_gpus, count)))
    except ValueError:
        raise ModelError(f"Model '{model_id}': gpus must be GPU numbers like '0,1' (got {gpus!r}).") from None
    missing = [i for i in ids if not 0 <= i < count]
    if missing:
        raise ModelError(f"Model '{model_id}' asks for GPU {missing} but this machine has {count} (0–{count - 1}).")
    caps = {i: max_gpu_memory or f"{torch.cuda.get_device_properties(i).total_memory // 2**20}MiB" for i in ids}
    return {"device_map": "auto", "max_memory": caps, "dtype": torch.float16}


class GPTQChatModel(ChatModel):
    template_source = "tokenizer"

    def __init__(
        self,
        model_id: str,
        path: Path,
        *,
        context: int,
        threads: int,
        gpus: str | None = None,
        num_gpus: int = 1,
        max_gpu_memory: str | None = None,
    ):
        folder = gptq_folder(model_id, path)
        try:
            import gptqmodel  # noqa: F401  (the kernels transformers' GPTQ loader runs)
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise ModelError(
                f"Model '{model_id}' needs the GPTQ engine, which is not installed ({exc.name}): "
                "pip install 'chatchat[gptq]' (with CUDA torch for an NVIDIA GPU)."
            ) from exc
        where = placement(torch, model_id, gpus, num_gpus, max_gpu_memory)
        if where["device_map"] == "cpu":
            weights = sum(item.stat().st_size for item in folder.iterdir() if item.suffix in WEIGHT_SUFFIXES)
            check_fits_memory(model_id, folder, size=weights)
            torch.set_num_threads(threads)
        self._torch = torch
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = AutoModelForCausalLM.from_pretrained(folder, **where)
        except torch.cuda.OutOfMemoryError as exc:
            raise ModelError(
                f"Model '{model_id}' does not fit the GPU memory: spread it over more GPUs (num_gpus, gpus) "
                "or pick a smaller model."
            ) from exc
        except (OSError, ValueError, RuntimeError, ImportError) as exc:
            raise ModelError(f"Model '{model_id}': transformers/gptqmodel could not load {folder} ({exc}).") from exc
        self.model.eval()
        self.model_id = model_id
        self.context = min(context, getattr(self.model.config, "max_position_embeddings", context))
        self.has_chat_template = bool(self.tokenizer.chat_template)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, ref: ModelRef, path: Path | None, settings: Settings, *, timeout: float) -> "GPTQChatModel":
        entry = ref.entry
        return cls(entry.id, path, context=entry.context, threads=cpu_threads(settings.llm_threads),
                   gpus=entry.gpus, num_gpus=entry.num_gpus, max_gpu_memory=entry.max_gpu_memory)

    @classmethod
    def locate(cls, model_id: str, path: Path, entry: LLMEntry) -> Path:
        return gptq_folder(model_id, path)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def close(self) -> None:
        with self._lock:
            self.model = None
            gc.collect()
            if self._torch.cuda.is_available():
                self._torch.cuda.empty_cache()

    def _generate(self, request: Request) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        torch, cancel = self._torch, request.cancel
        prompt = request.prompt
        if request.messages is not None:
            prompt = self.tokenizer.apply_chat_template(list(request.messages), add_generation_prompt=True,
                                                        tokenize=False)
        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        used = inputs["input_ids"].shape[1]
        if used >= self.context:
            raise ModelError(
                f"The prompt ({used} tokens) is too long for model '{self.model_id}' (context {self.context}). "
                "Ask a shorter question, keep fewer turns of history, or retrieve fewer passages."
            )
        halt = threading.Event()  # set when the consumer stops reading or cancels

        class Halt(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                stopped = halt.is_set() or (cancel is not None and cancel.is_set())
                return torch.full((input_ids.shape[0],), stopped, dtype=torch.bool, device=input_ids.device)

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {"do_sample": True, "temperature": request.temperature} if request.temperature > 0 else {"do_sample": False}
        stop = list(request.stop)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(
                        input_ids=inputs["input_ids"].to(self.model.device),
                        attention_mask=inputs["attention_mask"].to(self.model.device),
                        max_new_tokens=min(request.max_tokens, self.context - used),
                        stopping_criteria=StoppingCriteriaList([Halt()]),
                        streamer=streamer,
                        pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                        **({"stop_strings": stop, "tokenizer": self.tokenizer} if stop else {}),
                        **sampling,
                    )
            except BaseException as exc:  # re-raised in the consumer's thread
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name=f"gptq-{self.model_id}", daemon=True)
        worker.start()
        try:
            for text in streamer:
                yield text
            if failure:
                raise failure[0]
        finally:
            halt.set()
            worker.join()  # the model is free again once generate() has returned

    def _error(self, exc: Exception) -> ChatchatError:
        return ModelError(f"Model '{self.model_id}' (GPTQ) failed while generating: {exc}")
