"""`chatchat ask [--kb NAME | --files F... | --web [ENGINE]] [--model ID] "question"`: stream an answer to the terminal.
`chatchat ask --agent [--kb NAME] [--web [ENGINE]] "question"`: the model answers calling tools (its steps are
printed as they happen; a tool that asks before running asks y/N on a terminal, else it is refused).

Exit codes: 0 answered; 1 the answer or one of --files failed (provider down, model crashed...);
2 bad input (empty question, unknown model or knowledge base); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from chatchat import policy
from chatchat.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from chatchat.errors import AlreadyExists, ChatchatError, ModelError, NotFound

if TYPE_CHECKING:  # imported when a question is asked (the answerer brings the store), not for `--help`
    from chatchat.answer.answerer import AnswerEvent
    from chatchat.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask a question, optionally grounded in a knowledge base or files")
    p.add_argument("question", nargs="?", help="the question (it may also come last, after --files F...)")
    p.add_argument("--kb", help="knowledge base to answer from")
    p.add_argument("--model", help="model id from `chatchat models list`, provider/model (e.g. deepseek/deepseek-chat), "
                                   "or the path of a GGUF file (added to your models)")
    p.add_argument("--files", nargs="+", type=Path, metavar="F", help="answer from these files (a temporary knowledge base)")
    p.add_argument("--web", nargs="?", const="", metavar="ENGINE",
                   help="answer from web pages a search engine finds: searxng, duckduckgo, bing, tavily, brave or exa "
                        "(default: the one picked in Settings, web_provider)")
    p.add_argument("--agent", action="store_true",
                   help="let the model call tools (calculator, time, units, the MCP servers of Settings; with --kb "
                        "knowledge-base search, with --web web search and page reading)")
    p.add_argument("--top-k", type=int, help="passages to retrieve")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--json", action="store_true", help="print the answer events as JSON lines")
    p.set_defaults(handler=_ask)


def _ask(args: argparse.Namespace) -> int:
    from chatchat.answer.answerer import Answerer
    from chatchat.config import load_settings
    from chatchat.llm.manager import LLMManager
    from chatchat.models.catalog import load_catalog

    if args.question is None and args.files and len(args.files) > 1:
        args.question = str(args.files.pop())  # `--files a.pdf b.pdf "question"`: argparse took it for a file
    if args.question is None:
        print("error: no question given", file=sys.stderr)
        return EXIT_USAGE
    if args.agent and args.files:
        print("error: --agent searches knowledge bases (--kb), not --files", file=sys.stderr)
        return EXIT_USAGE
    if not args.agent and sum(bool(x) for x in (args.kb, args.files, args.web is not None)) > 1:
        print("error: use one of --kb, --files and --web", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings(home=args.home)
    if args.model and _is_path(args.model):
        try:
            args.model = _local_model(settings, Path(args.model))
        except ChatchatError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return EXIT_USAGE
    services = None
    kb = args.kb
    status = EXIT_OK
    if kb or args.files or args.web is not None or args.agent:
        from chatchat.service import Services

        services = Services.open(settings)
        llms = services.llms
    else:
        llms = LLMManager(settings, load_catalog(user_path=settings.home / "models.yaml"))
    try:
        if args.files:
            name = policy.ASK_KB_PREFIX + uuid.uuid4().hex[:8]
            services.create_kb(name, description="temporary, for chatchat ask --files", owner=policy.ASK)
            kb = name
            results = services.add_files(kb, [Path(f) for f in args.files])
            failed = [r for r in results if r.status == "failed"]
            for result in failed:
                print(f"warning: {result.file}: {result.error}", file=sys.stderr)
            if len(failed) == len(results):
                print("error: none of the files could be read", file=sys.stderr)
                return EXIT_FAILED
            status = EXIT_FAILED if failed else EXIT_OK
        options = {"model": args.model, "temperature": args.temperature, "max_tokens": args.max_tokens}
        if services is None:
            events = Answerer(settings, llms).answer(args.question, **options)
        elif args.agent:
            events = services.agent_answer(args.question, kbs=[kb] if kb else [], web=args.web is not None,
                                           web_provider=args.web or None,
                                           approve=_ask_first if sys.stdin.isatty() else None, **options)
        elif args.web is not None:
            events = services.web_answer(args.question, provider=args.web or None, top_k=args.top_k, **options)
        else:
            events = services.answer(args.question, kb=kb, top_k=args.top_k, **options,
                                     attached=", ".join(Path(f).name for f in args.files) if args.files else None)
        for event in events:
            if args.json:
                print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
            else:
                _show(event)
            if event.kind == "error":
                assert event.error is not None
                return EXIT_USAGE if event.error.status in (400, 404, 409) else EXIT_FAILED
        if args.agent and not args.json:
            print()  # an agent answer has no sources block to end its last line
        return status
    finally:
        llms.unload_all()  # free llama.cpp before interpreter shutdown tears its bindings down
        if args.files and kb and services is not None:
            services.delete_kb(kb)


def _is_path(model: str) -> bool:
    return Path(model).suffix.lower() == ".gguf" or Path(model).expanduser().is_file()


def _local_model(settings: Settings, path: Path) -> str:
    """The catalog id of a GGUF file on this computer, added to the user's models (and imported by hard
    link or copy) the first time, as `chatchat models add --local FILE --pull` does."""
    from chatchat.models.catalog import safe_id
    from chatchat.models.install import pull
    from chatchat.models.user_catalog import add_model, open_catalog

    path = path.expanduser().resolve()
    if not path.is_file():
        raise NotFound(f"There is no file {path}. Give the path of a GGUF model file, or a model id from: "
                       "chatchat models list")
    if path.suffix.lower() != ".gguf":
        raise ModelError(f"{path.name} is not a GGUF file: only GGUF models run from a path. Add other models with: "
                         "chatchat models add")
    catalog = open_catalog(settings)
    entry = next((e for e in catalog.llms.values() if e.url == path.as_uri()), None)
    if entry is None:
        try:
            entry = add_model(settings, local=path)
        except AlreadyExists:
            raise AlreadyExists(
                f"Another model has the id {safe_id(path.stem)!r}. Add this file under an id of your choice: "
                f"chatchat models add --local {path} --id NAME --pull, then: chatchat ask --model NAME"
            ) from None
        print(f"added {path.name} to your models as '{entry.id}' (remove it with: chatchat models rm {entry.id} "
              "--forget)", file=sys.stderr)
    pull(settings, entry)
    return entry.id


def _ask_first(tool, arguments: dict) -> bool:
    """Whether the person at the terminal lets a tool that may change something run (y/N)."""
    shown = json.dumps(arguments, ensure_ascii=False)
    reply = input(f"\nRun {tool.name}{f' ({tool.server})' if tool.server else ''} with {shown}? [y/N] ")
    return reply.strip().lower() in ("y", "yes")


def _show(event: AnswerEvent) -> None:
    if event.kind == "step":
        assert event.step is not None
        step = event.step
        where = f" [{step['server']}]" if step["server"] else ""
        mark = "" if step["ok"] else " (failed)"
        print(f"[step {step['index']}] {step['tool']}{where}({json.dumps(step['arguments'], ensure_ascii=False)}) "
              f"{step['seconds']:.2f}s{mark}: {step['summary']}", flush=True)
    elif event.kind == "notice":
        print(f"notice: {event.text}", file=sys.stderr)
    elif event.kind == "delta":
        sys.stdout.write(event.text)
        sys.stdout.flush()
    elif event.kind == "sources":
        sys.stdout.write("\n")
        if event.sources:
            print("\nSources:")
        for source in event.sources:
            page = f", page {source.page}" if source.page is not None else ""
            # a web page's address; a knowledge base's original is a route of the server, not of this terminal
            link = f" <{source.url}>" if source.url.startswith(("http://", "https://")) else ""
            print(f"  [{source.index}] {source.file}{page}{link} (score {source.score:.2f}): {source.snippet}")
    elif event.kind == "done" and event.cancelled:
        print("(stopped)", file=sys.stderr)
    elif event.kind == "error":
        print(f"\nerror: {event.text}", file=sys.stderr)
