"""`chatchat kb …`: create, list, inspect, fill and search knowledge bases."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from chatchat.cli import EXIT_FAILED, EXIT_OK
from chatchat.cli.common import open_services, print_json

if TYPE_CHECKING:  # the ingest job brings the store (LanceDB): imported by the commands that use it
    from tqdm import tqdm

    from chatchat.ingest.job import FileResult, Progress


def register(sub: argparse._SubParsersAction) -> None:
    kb = sub.add_parser("kb", help="manage knowledge bases")
    cmds = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)

    p = cmds.add_parser("create", help="create a knowledge base")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p.add_argument("--embedding", help="embedding model id (see `chatchat models list`)")
    p.add_argument("--chunk-size", type=int)
    p.add_argument("--chunk-overlap", type=int)
    p.set_defaults(handler=_create)

    p = cmds.add_parser("list", help="list knowledge bases")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = cmds.add_parser("info", help="a knowledge base and its documents")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_info)

    p = cmds.add_parser("add", help="add files and folders (recursively)")
    p.add_argument("name")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print per-file results as JSON")
    p.set_defaults(handler=_add)

    p = cmds.add_parser("remove", help="remove a document")
    p.add_argument("name")
    p.add_argument("file")
    p.set_defaults(handler=_remove)

    p = cmds.add_parser("chunks", help="show a document's chunks")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_chunks)

    p = cmds.add_parser("search", help="search a knowledge base")
    p.add_argument("name")
    p.add_argument("query")
    p.add_argument("--top-k", type=int)
    p.add_argument("--threshold", type=float, help="minimum cosine similarity")
    p.add_argument("--mode", choices=["hybrid", "vector", "fulltext"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_search)

    p = cmds.add_parser("rebuild", help="re-ingest every kept original")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_rebuild)

    p = cmds.add_parser("eval", help="measure retrieval (and answers) with a test set")
    p.add_argument("name")
    p.add_argument("file", type=Path, help="test set: .jsonl, .csv or .xlsx (question, answers, source, unanswerable)")
    p.add_argument("--top-k", type=int, default=10, help="chunks retrieved and ranked per question (5-100)")
    p.add_argument("--mode", choices=["hybrid", "vector", "fulltext"])
    p.add_argument("--answers", action="store_true", help="also ask the chat model and check its answers")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=_eval)

    p = cmds.add_parser("delete", help="delete a knowledge base and its files")
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=_delete)


def _create(args: argparse.Namespace) -> int:
    info = open_services(args).create_kb(
        args.name, args.description, args.embedding, args.chunk_size, args.chunk_overlap
    )
    print(f"created knowledge base '{info.name}' (embedding {info.embedding}, chunks {info.chunk_size}/{info.chunk_overlap})")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from chatchat.config import load_settings
    from chatchat.policy import visible
    from chatchat.retrieval.store import Store

    # what Services.list_kbs lists (the policy's rule), from the kb.json files alone: the store, without
    # LanceDB, the tables or the models' side, which are most of Services' import
    kbs = [info for info in Store.from_settings(load_settings(home=args.home)).list() if visible(info.owner)]
    if args.json:
        print_json(kbs)
    elif not kbs:
        print("no knowledge bases yet: chatchat kb create NAME")
    for info in [] if args.json else kbs:
        print(f"{info.name}\t{info.embedding}\t{info.description}")
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    services = open_services(args)
    info = services.kb_info(args.name)
    docs = services.documents(args.name)
    if args.json:
        print_json({"kb": asdict(info), "documents": [asdict(doc) for doc in docs]})
        return EXIT_OK
    print(f"{info.name}: {info.description}\n  embedding {info.embedding} ({info.dim}-d), "
          f"chunk {info.chunk_size}/{info.chunk_overlap}, created {info.created}")
    for doc in docs:
        pages = f"{doc.pages} pages" if doc.pages else "-"
        print(f"  {doc.status:8} {doc.file}\t{pages}\t{doc.chunks} chunks\t{doc.error or ''}")
    return EXIT_OK


class _Bar:
    """One tqdm bar over files, with the current file and stage in its description."""

    def __init__(self, quiet: bool):
        self.bar: tqdm | None = None
        self.quiet = quiet

    def __call__(self, progress: Progress) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=progress.file_count, unit="file", file=sys.stderr, dynamic_ncols=True)
        detail = f" {progress.done}/{progress.total}" if progress.total else ""
        self.bar.set_description(f"{progress.file[:40]} {progress.stage}{detail}")
        if progress.stage == "done":
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _report(results: list[FileResult], as_json: bool) -> int:
    if as_json:
        print_json(results)
    else:
        for result in results:
            detail = result.error if result.error else f"{result.chunks} chunks"
            print(f"{result.status:9} {result.file}: {detail}")
    return EXIT_FAILED if any(r.status in ("failed", "cancelled") for r in results) else EXIT_OK


def _add(args: argparse.Namespace) -> int:
    services = open_services(args)
    from chatchat.ingest.job import collect_files

    services.kb_info(args.name)
    files = collect_files(args.paths)
    bar = _Bar(quiet=args.json)
    try:
        results = services.add_files(args.name, [path for path, _ in files], [name for _, name in files], progress=bar)
    finally:
        bar.close()
    return _report(results, args.json)


def _rebuild(args: argparse.Namespace) -> int:
    bar = _Bar(quiet=args.json)
    try:
        results = open_services(args).rebuild_kb(args.name, progress=bar)
    finally:
        bar.close()
    return _report(results, args.json)


def _remove(args: argparse.Namespace) -> int:
    open_services(args).remove_document(args.name, args.file)
    print(f"removed {args.file} from {args.name}")
    return EXIT_OK


def _chunks(args: argparse.Namespace) -> int:
    chunks = open_services(args).chunks(args.name, args.file)
    if args.json:
        print_json(chunks)
        return EXIT_OK
    for chunk in chunks:
        where = f"p.{chunk.page}" if chunk.page else ""
        print(f"--- #{chunk.chunk_index} {where} {chunk.section or ''}\n{chunk.text}")
    return EXIT_OK


def _search(args: argparse.Namespace) -> int:
    hits = open_services(args).search(args.name, args.query, args.top_k, args.threshold, args.mode)
    if args.json:
        print_json(hits)
        return EXIT_OK
    if not hits:
        print("no matching chunks")
    for hit in hits:
        where = f" p.{hit.page}" if hit.page else ""
        print(f"[{hit.score:.3f}] {hit.file}{where}\n  {hit.text[:300]}")
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from chatchat.evaluation import runs, testset

    services = open_services(args)
    items = testset.read_file(args.file)
    bar = tqdm(total=len(items), unit="question", file=sys.stderr, dynamic_ncols=True, disable=args.json)
    options = runs.RunOptions(top_k=args.top_k, mode=args.mode, answers=args.answers)
    try:
        record = runs.run(services, args.name, items, options, progress=lambda p: bar.update(p.done - bar.n))
    finally:
        bar.close()
    if args.json:
        print_json({**record.summary, "run": record.id, "settings": record.settings})
        return EXIT_OK
    summary = record.summary
    print(f"{args.name}: {summary['n']} questions ({summary['answerable']} answerable), run {record.id}")
    for key, value in summary.items():
        if key not in ("n", "answerable", "unanswerable"):
            print(f"  {key:20} {'-' if value is None else value}")
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    services = open_services(args)
    services.kb_info(args.name)
    if not args.yes:
        if not sys.stdin.isatty():
            print("refusing to delete without --yes (no terminal to confirm on)", file=sys.stderr)
            return EXIT_FAILED
        if input(f"Delete knowledge base '{args.name}' and all its files? [y/N] ").strip().lower() != "y":
            print("kept")
            return EXIT_OK
    services.delete_kb(args.name)
    print(f"deleted {args.name}")
    return EXIT_OK
