"""`chatchat models …`: list, pull, remove, fit-check, add and choose local models; list and add a model server's."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from chatchat.cli import EXIT_OK

if TYPE_CHECKING:  # the catalog, httpx and the hardware probe load when a command runs, not for `--help`
    from tqdm import tqdm

    from chatchat.models import hardware
    from chatchat.models.downloads import Progress
    from chatchat.models.manager import ModelManager, ModelStatus


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="manage models (list, pull, rm, fit, add, default, discover)")
    cmds = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    p = cmds.add_parser("list", help="the catalog: installed or not, size, fit, default")
    p.add_argument("--installed", action="store_true", help="only installed models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = cmds.add_parser("pull", help="download (or resume) and verify a model")
    p.add_argument("id")
    p.add_argument("--source", type=_source, default="auto", metavar="SOURCE",
                   help="where from: auto, hf, modelscope or url (auto: the download_source setting where the model has it, else Hugging Face "
                        "or its mirror (the hf_endpoint setting), else ModelScope, else URL)")
    p.set_defaults(handler=_pull)

    p = cmds.add_parser("rm", help="delete an installed model")
    p.add_argument("id")
    p.add_argument("--forget", action="store_true", help="also drop it from your models.yaml (added models)")
    p.set_defaults(handler=_rm)

    p = cmds.add_parser("fit", help="this machine, and which models fit it (CPU and GPU)")
    p.add_argument("--context", type=int, help="context length to size the KV cache for (default: each model's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_fit)

    p = cmds.add_parser("add", help="add your own model: a Hugging Face or ModelScope file, a URL, or a local file")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--hf", metavar="REPO", help="Hugging Face repo id, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF")
    source.add_argument("--modelscope", metavar="REPO", help="ModelScope repo id")
    source.add_argument("--url", help="direct download URL of one model file")
    source.add_argument("--local", metavar="FILE", help="a model file on this computer to import")
    p.add_argument("--file", dest="files", action="append", default=[], help="file in the repo (repeat for several)")
    p.add_argument("--id", dest="model_id", help="catalog id (default: from the file name)")
    p.add_argument("--name", help="display name")
    p.add_argument("--embedding", action="store_true", help="an ONNX embedding model, not a chat model")
    p.add_argument("--dim", type=int, help="embedding dimension (embedding models)")
    p.add_argument("--pooling", choices=["mean", "cls"], default="mean")
    p.add_argument("--engine", choices=["llama.cpp", "ctransformers", "gptq"])
    p.add_argument("--revision", default="main")
    p.add_argument("--sha256", help="expected sha256 of the file")
    p.add_argument("--context", type=int)
    p.add_argument("--pull", action="store_true", help="download (or import) it right away")
    p.set_defaults(handler=_add)

    p = cmds.add_parser("default", help="make an installed model the default chat or embedding model")
    p.add_argument("id")
    p.set_defaults(handler=_default)

    p = cmds.add_parser("discover", help="list what a model server (Ollama, vLLM, Xinference, LM Studio, LocalAI, "
                                         "llama.cpp, FastChat) or provider offers; --add one of its models")
    p.add_argument("provider", help="ollama, vllm, xinference, lmstudio, localai, llamacpp, fastchat, custom, or a cloud's id")
    p.add_argument("--base-url", help="the server's address when it is not the preset's (saved with an added model)")
    p.add_argument("--add", metavar="MODEL", help="add this model (listed or not: an Azure deployment) to your models.yaml")
    p.add_argument("--embedding", action="store_true", help="add it as an embedding model (default: a chat model)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_discover)


def _source(value: str) -> str:
    """`--source`, checked when given (the list of sources comes with the download code, not for `--help`)."""
    from chatchat.models.sources import SOURCES

    if value not in ("auto", *SOURCES):
        raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from auto, {', '.join(SOURCES)})")
    return value


def _manager(args: argparse.Namespace) -> ModelManager:
    from chatchat.config import load_settings
    from chatchat.models.manager import ModelManager
    from chatchat.models.user_catalog import open_catalog

    settings = load_settings(home=args.home)
    return ModelManager(settings, open_catalog(settings))


def _fit_text(report: hardware.FitReport | None) -> str:
    from chatchat.models.downloads import human

    if report is None:
        return "cloud"
    gpu = f" / GPU {report.gpu}" if report.gpu else ""
    return f"{human(report.need_mb * 2**20)}: CPU {report.cpu}{gpu}"


def _list(args: argparse.Namespace) -> int:
    from chatchat.models.downloads import human

    manager = _manager(args)
    try:
        rows = [m for m in manager.models() if m.installed or not args.installed]
        if args.json:
            print(json.dumps([_as_json(m) for m in rows], ensure_ascii=False, indent=2))
            return EXIT_OK
        for m in rows:
            if m.installed and m.entry.is_local:
                state = f"installed {human(m.disk_bytes)}" + (" (pip package)" if m.shipped else "")
            elif not m.entry.is_local:
                state = "cloud"
            else:
                size = f"{human(m.download_bytes)} " if m.download_bytes else ""
                state = f"{size}to download" + (f", {human(m.partial_bytes)} kept to resume" if m.partial_bytes else "")
            mark = "*" if m.default else " "
            print(f"{mark} {m.id:<40} {m.kind:<9} {state:<34} {_fit_text(m.fit) if m.entry.is_local else ''}")
            if m.path is not None and args.installed:
                print(f"    {m.path}")
        print("\n* = default.  Pull with: chatchat models pull ID", file=sys.stderr)
        return EXIT_OK
    finally:
        manager.close()


def _as_json(m: ModelStatus) -> dict:
    return {
        "id": m.id, "kind": m.kind, "name": m.name, "installed": m.installed,
        "path": str(m.path) if m.path else None, "disk_bytes": m.disk_bytes,
        "download_bytes": m.download_bytes, "partial_bytes": m.partial_bytes, "shipped": m.shipped,
        "user_added": m.user_added, "default": m.default,
        "fit": None if m.fit is None else {"need_mb": m.fit.need_mb, "cpu": m.fit.cpu, "gpu": m.fit.gpu, "note": m.fit.note},
    }


class _Bar:
    """A tqdm bar fed by Progress reports."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def __call__(self, progress: Progress) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=progress.total, initial=progress.done, unit="B", unit_scale=True,
                            unit_divisor=1024, desc=progress.model_id, file=sys.stderr)
        self.bar.total = progress.total
        self.bar.set_postfix_str(progress.stage if progress.stage != "download" else progress.file, refresh=False)
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _pull(args: argparse.Namespace) -> int:
    from chatchat.config import load_settings
    from chatchat.models.downloads import human
    from chatchat.models.install import pull
    from chatchat.models.layout import partial_bytes
    from chatchat.models.user_catalog import open_catalog

    settings = load_settings(home=args.home)
    entry = open_catalog(settings).entry(args.id)
    bar = _Bar()
    try:
        path = pull(settings, entry, bar, source=args.source)
    except KeyboardInterrupt:
        kept = partial_bytes(settings, entry)
        print(f"interrupted: {human(kept)} kept; run the same command to resume.", file=sys.stderr)
        return 130
    finally:
        bar.close()
    print(f"{entry.id} installed: {path}")
    return EXIT_OK


def _rm(args: argparse.Namespace) -> int:
    manager = _manager(args)
    try:
        manager.delete(args.id, forget_entry=args.forget)
    finally:
        manager.close()
    print(f"{args.id} removed")
    return EXIT_OK


def _fit(args: argparse.Namespace) -> int:
    from chatchat.models import hardware
    from chatchat.models.downloads import human

    manager = _manager(args)
    try:
        hw = manager.hardware()
        settings = manager.settings
        embedding = manager.catalog.embeddings.get(settings.default_embedding)
        rows = []
        for m in manager.models():
            if not m.entry.is_local:
                continue
            if args.context and m.kind == "llm":
                report = hardware.fit(m.entry, hw, args.context, embedding, m.path if m.path and not m.entry.n_layers else None)
            else:
                report = m.fit
            rows.append((m, report))
        best = manager.recommend()
        if args.json:
            print(json.dumps({
                "hardware": hw.__dict__ | {"gpus": [g.__dict__ for g in hw.gpus]},
                "models": [{"id": m.id, "need_mb": r.need_mb, "cpu": r.cpu, "gpu": r.gpu, "note": r.note,
                            "cpu_tokens_per_s": r.cpu_tokens_per_s, "slow": r.slow} for m, r in rows],
                "recommended": best.id if best else None,
            }, ensure_ascii=False, indent=2))
            return EXIT_OK
        print(f"CPU   {hw.cpu} ({hw.cores} cores, {hw.threads} threads)")
        print(f"RAM   {human(hw.ram_available_mb * 2**20)} free of {human(hw.ram_total_mb * 2**20)}")
        print(f"Disk  {human(hw.disk_free_mb * 2**20)} free at {hw.disk_path}")
        for g in hw.gpus or []:
            print(f"GPU{g.index}  {g.name}: {human(g.free_mb * 2**20)} free of {human(g.total_mb * 2**20)} (driver {hw.gpu_driver})")
        if not hw.gpus:
            print("GPU   none found (no NVIDIA driver, or nvidia-smi/pynvml missing)")
        print("\nmemory need = weights + KV cache at the model's context + buffers + the default embedding model")
        for m, r in rows:
            slow = f"slow on this CPU (~{r.cpu_tokens_per_s:.1g} token/s)" if r.slow and r.cpu != "no" else ""
            note = f"  ({'; '.join(filter(None, (r.note, slow)))})" if r.note or slow else ""
            print(f"  {m.id:<40} {human(r.need_mb * 2**20):>9}  CPU {r.cpu:<5}  GPU {r.gpu or '-':<5}{note}")
        print(f"\nrecommended first model: {best.id if best else 'none of the catalog fits; use a cloud provider'}")
        return EXIT_OK
    finally:
        manager.close()


def _add(args: argparse.Namespace) -> int:
    from chatchat.models.user_catalog import user_catalog_path

    manager = _manager(args)
    try:
        entry = manager.add(
            hf=args.hf, modelscope=args.modelscope, url=args.url, local=args.local, files=args.files,
            model_id=args.model_id, name=args.name, kind="embedding" if args.embedding else "llm",
            engine=args.engine, revision=args.revision, sha256=args.sha256, context=args.context,
            dim=args.dim, pooling=args.pooling,
        )
    finally:
        manager.close()
    print(f"added '{entry.id}' to {user_catalog_path(manager.settings)}")
    if not (args.pull or args.local):
        print(f"download it with: chatchat models pull {entry.id}")
        return EXIT_OK
    args.id, args.source = entry.id, "auto"
    return _pull(args)


def _default(args: argparse.Namespace) -> int:
    from chatchat.config import load_settings
    from chatchat.models.manager import set_default
    from chatchat.models.user_catalog import open_catalog

    settings = load_settings(home=args.home)
    set_default(settings, open_catalog(settings), args.id)
    print(f"default model set: {args.id} (saved in {settings.settings_path})")
    return EXIT_OK



def _discover(args: argparse.Namespace) -> int:
    from chatchat.config import KeyStore, load_settings
    from chatchat.models.discovery import add_served, list_models, with_address
    from chatchat.models.user_catalog import open_catalog, user_catalog_path

    settings = load_settings(home=args.home)
    catalog = open_catalog(settings)
    provider = with_address(catalog.provider(args.provider), args.base_url)
    key = KeyStore(settings.home).get(provider.id, provider.key_env)
    if args.add:
        model_id = add_served(settings, catalog, provider, args.add, "embedding" if args.embedding else "llm", api_key=key)
        print(f"added '{model_id}' to {user_catalog_path(settings)}; make it the default with: "
              f"chatchat models default {model_id}")
        return EXIT_OK
    models = list_models(provider, key)
    if args.json:
        print(json.dumps([m.__dict__ for m in models], ensure_ascii=False, indent=2))
        return EXIT_OK
    for m in models:
        print(f"  {m.id:<48} {m.kind or '':<10} {m.context or ''}")
    print(f"{len(models)} model(s) at {provider.base_url}. Add one with: chatchat models discover {provider.id} "
          "--add MODEL [--embedding]", file=sys.stderr)
    return EXIT_OK
