"""Evaluation routes: /api/knowledge_bases/{name}/evaluations/… — a knowledge base's test set (list, replace,
add, edit, delete, import, export, drafts) and its runs (start one, list them side by side, read one).
Thin over chatchat.evaluation."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path as PathParam, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from chatchat.api.deps import get_services, known_kb
from chatchat.api.errors import ApiError
from chatchat.api.schemas import KB_NAME_HELP, KB_NAME_PATTERN, INTEGRAL, Deleted, RequestModel
from chatchat.api.uploads import upload_body, uploaded_files
from chatchat.evaluation import drafts, runs, testset, trials
from chatchat.service import Services

router = APIRouter(prefix="/api/knowledge_bases/{name}/evaluations", tags=["Evaluation"])
KB = Annotated[str, PathParam(pattern=KB_NAME_PATTERN, description=KB_NAME_HELP, examples=["demo"])]
ItemId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[\w-]+$")]
RunId = Annotated[str, PathParam(min_length=1, max_length=40, description="as listed by GET …/runs")]


class ItemIn(RequestModel):
    question: str = Field(min_length=1, max_length=testset.MAX_QUESTION_CHARS)
    answers: list[str] = Field(default_factory=list, max_length=50, description="strings an answering chunk contains")
    source: str = Field("", max_length=255, description="the document the answer is in (optional)")
    unanswerable: bool = Field(False, description="the answer is not in the knowledge base: a good run refuses it")
    context: str = Field("", max_length=20000, description="the passage the answer must come from (optional)")
    draft: bool = False


class ItemOut(ItemIn):
    id: str


class ItemEdit(RequestModel):
    question: str | None = Field(None, min_length=1, max_length=testset.MAX_QUESTION_CHARS)
    answers: list[str] | None = Field(None, max_length=50)
    source: str | None = Field(None, max_length=255)
    unanswerable: bool | None = None
    context: str | None = Field(None, max_length=20000)
    draft: bool | None = None


class TestSetOut(BaseModel):
    __test__ = False
    knowledge_base: str
    data: list[ItemOut]


class TestSetIn(RequestModel):
    items: list[ItemIn] = Field(max_length=testset.MAX_ITEMS)


class DraftRequest(RequestModel):
    count: Annotated[int, Field(5, ge=1, le=drafts.MAX_DRAFTS), INTEGRAL] = 5
    model: str | None = Field(None, description="chat model id; default: settings.default_llm")


class DraftsOut(BaseModel):
    data: list[ItemOut]
    weak_model: bool = Field(description="the model is the small demo model: expect weak drafts")


class RunRequest(RequestModel):
    """Settings left out are the app's, as the chat uses them. `embedding`, `chunk_size` or `chunk_overlap`
    unlike the knowledge base's: the run searches a temporary copy built with them ("try these settings");
    the knowledge base is not changed."""

    top_k: Annotated[int, Field(10, ge=5, le=100), INTEGRAL] = 10
    mode: Literal["hybrid", "vector", "fulltext"] | None = None
    score_threshold: float | None = Field(None, ge=-1.0, le=1.0)
    gate: Literal["off", "loose", "balanced", "strict"] | None = None
    rerank: bool = True
    answers: bool = Field(False, description="also ask the chat model (end to end: answer, citation, latency)")
    max_tokens: Annotated[int, Field(ge=1, le=4096), INTEGRAL] | None = None
    embedding: str | None = None
    chunk_size: Annotated[int, Field(ge=50, le=8000), INTEGRAL] | None = None
    chunk_overlap: Annotated[int, Field(ge=0, le=4000), INTEGRAL] | None = None
    items: list[ItemIn] | None = Field(None, max_length=testset.MAX_ITEMS,
                                       description="questions to run instead of the stored test set")


class RunOut(BaseModel):
    id: str
    kb: str
    created: float
    status: str
    label: str
    trial: bool
    settings: dict[str, Any]
    summary: dict[str, Any]
    results: list[dict[str, Any]] = Field(default_factory=list, description="per question: retrieved, rank, refused, answer")


class RunList(BaseModel):
    data: list[RunOut]
    compared: list[dict[str, Any]] = Field(description="one row per run: settings and figures side by side")


def _items_out(kb: str, items: list[testset.Item]) -> TestSetOut:
    return TestSetOut(knowledge_base=kb, data=[ItemOut(**asdict(i)) for i in items])


def _items_in(items: list[ItemIn]) -> list[testset.Item]:
    return [testset.Item.checked(row, **item.model_dump()) for row, item in enumerate(items, 1)]


@router.get("/testset", response_model=TestSetOut, summary="The knowledge base's test set")
def get_testset(name: KB, services: Services = Depends(get_services)) -> TestSetOut:
    name = known_kb(services, name)
    return _items_out(name, runs.testset_of(services, name).items())


@router.put("/testset", response_model=TestSetOut, summary="Replace the test set")
def put_testset(name: KB, body: TestSetIn, services: Services = Depends(get_services)) -> TestSetOut:
    name = known_kb(services, name, write=True)
    return _items_out(name, runs.testset_of(services, name).replace(_items_in(body.items)))


@router.post("/testset/items", response_model=TestSetOut, status_code=201, summary="Add questions to the test set")
def add_items(name: KB, body: TestSetIn, services: Services = Depends(get_services)) -> TestSetOut:
    name = known_kb(services, name, write=True)
    added = _items_in(body.items)
    runs.testset_of(services, name).add(added)
    return _items_out(name, added)


@router.patch("/testset/items/{item_id}", response_model=ItemOut, summary="Edit one question")
def edit_item(name: KB, item_id: ItemId, body: ItemEdit, services: Services = Depends(get_services)) -> ItemOut:
    name = known_kb(services, name, write=True)
    item = runs.testset_of(services, name).update(item_id, **body.model_dump(exclude_none=True))
    return ItemOut(**asdict(item))


@router.delete("/testset/items/{item_id}", response_model=Deleted, summary="Delete one question")
def delete_item(name: KB, item_id: ItemId, services: Services = Depends(get_services)) -> Deleted:
    name = known_kb(services, name, write=True)
    runs.testset_of(services, name).delete([item_id])
    return Deleted(id=item_id, object="evaluation.item")


@router.post("/testset/import", response_model=TestSetOut, summary="Import questions from a JSONL, CSV or XLSX file",
             openapi_extra=upload_body({"replace": {"type": "boolean", "description": "replace the test set (default: add)"}}))
async def import_testset(name: KB, request: Request) -> TestSetOut:
    services = get_services(request)
    name = await run_in_threadpool(known_kb, services, name, True)
    async with uploaded_files(request, services.settings) as form:
        if len(form.files) != 1:
            raise ApiError("Send one test set file as the part named 'files'.", param="files")
        replace = form.fields.get("replace", "false").lower() in ("1", "true", "yes")
        upload = form.files[0]
        items = await run_in_threadpool(runs.testset_of(services, name).import_file, upload.path, upload.name, replace)
    return _items_out(name, items)


@router.get("/testset/export", response_class=Response, summary="Download the test set (JSONL or CSV)",
            responses={200: {"content": {"application/jsonl": {}, "text/csv": {}}}})
def export_testset(name: KB, format: Literal["jsonl", "csv"] = Query("jsonl"),
                   services: Services = Depends(get_services)) -> Response:
    name = known_kb(services, name)
    items = runs.testset_of(services, name).items()
    body = testset.to_jsonl(items) if format == "jsonl" else testset.to_csv(items)
    media = "application/jsonl" if format == "jsonl" else "text/csv"
    filename = f"{name}-testset.{format}".encode("ascii", "replace").decode().replace("?", "_")
    return Response(body.encode("utf-8"), media_type=f"{media}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/testset/drafts", response_model=DraftsOut, summary="Draft questions from sampled chunks (not stored)")
def draft_items(name: KB, body: DraftRequest, services: Services = Depends(get_services)) -> DraftsOut:
    name = known_kb(services, name)
    items = drafts.draft_questions(services, name, body.count, body.model)
    return DraftsOut(data=[ItemOut(**asdict(i)) for i in items], weak_model=drafts.is_weak(services, body.model))


def _run_out(record: runs.Run) -> RunOut:
    return RunOut(**asdict(record))


@router.post("/runs", response_model=RunOut, status_code=201,
             summary="Run the test set (or `items`); other ingest settings run on a temporary copy")
def start_run(name: KB, body: RunRequest, services: Services = Depends(get_services)) -> RunOut:
    name = known_kb(services, name, write=True)
    stored = [i for i in runs.testset_of(services, name).items() if not i.draft]  # drafts run once kept
    items = _items_in(body.items) if body.items is not None else stored
    options = runs.RunOptions(top_k=body.top_k, mode=body.mode, score_threshold=body.score_threshold, gate=body.gate,
                              rerank=body.rerank, answers=body.answers, max_tokens=body.max_tokens)
    rebuild = trials.Rebuild(body.embedding, body.chunk_size, body.chunk_overlap)
    query_time = (body.mode, body.score_threshold, body.gate) != (None, None, None) or not body.rerank
    if rebuild.differs(services, name) or query_time:
        return _run_out(trials.try_settings(services, name, items, options, rebuild))
    return _run_out(runs.run(services, name, items, options))


@router.get("/runs", response_model=RunList, summary="The runs, oldest first, side by side (without per-question results)")
def list_runs(name: KB, services: Services = Depends(get_services)) -> RunList:
    name = known_kb(services, name)
    found = runs.list_runs(services, name)
    return RunList(data=[_run_out(r) for r in found], compared=runs.compare(found))


@router.get("/runs/{run_id}", response_model=RunOut, summary="One run with its per-question results")
def get_run(name: KB, run_id: RunId, services: Services = Depends(get_services)) -> RunOut:
    name = known_kb(services, name)
    return _run_out(runs.get_run(services, name, run_id))


@router.delete("/runs/{run_id}", response_model=Deleted, summary="Delete a run")
def delete_run(name: KB, run_id: RunId, services: Services = Depends(get_services)) -> Deleted:
    name = known_kb(services, name, write=True)
    runs.delete_run(services, name, run_id)
    return Deleted(id=run_id, object="evaluation.run")
