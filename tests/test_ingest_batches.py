"""Ingest in batches across files (issue 17): the real services, the packaged MiniLM model, real LanceDB."""

from chatchat.ingest.job import BATCH_FILES
from chatchat.retrieval.chunks import UNINDEXED_SHARE


def _notes(folder, count, start=0):
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"note{i:03d}.txt"
        path.write_text(f"Note {i} is about the colour number {i}, code word w{i}x.\n", encoding="utf-8")
        paths.append(path)
    return paths


def test_many_files_are_stored_in_batches_each_with_its_own_progress(services, tmp_path):
    services.create_kb("kb", embedding="minilm-l6-v2-int8")
    paths = _notes(tmp_path / "notes", BATCH_FILES + 6)  # more than one batch
    seen = []
    results = services.add_files("kb", paths, progress=seen.append)
    assert [r.status for r in results] == ["added"] * len(paths)
    assert [r.file for r in results] == [p.name for p in paths]
    for path in paths:
        stages = [p.stage for p in seen if p.file == path.name]
        assert stages[0] == "parse" and stages[-1] == "done" and {"split", "embed", "store"} <= set(stages), stages
    docs = {d.file: d for d in services.documents("kb")}
    assert len(docs) == len(paths) and {d.status for d in docs.values()} == {"ready"}
    assert all(docs[p.name].chunks == 1 for p in paths)
    hit = services.search("kb", "w17x", top_k=1, mode="fulltext")[0]
    assert hit.file == "note017.txt"
    assert services.add_files("kb", paths[:3])[0].status == "unchanged"


def test_a_file_that_cannot_be_kept_fails_alone_in_its_batch(services, tmp_path):
    """The batch is written again file by file: the others are stored, nothing goes through the link."""
    services.create_kb("kb", embedding="minilm-l6-v2-int8")
    outside = tmp_path / "outside"
    outside.mkdir()
    files_dir = services.store.get("kb").files_dir
    files_dir.mkdir(parents=True, exist_ok=True)
    (files_dir / "sub").symlink_to(outside, target_is_directory=True)
    paths = _notes(tmp_path / "notes", 3)
    results = services.add_files("kb", paths, names=["a.txt", "sub/b.txt", "c.txt"])
    assert [r.status for r in results] == ["added", "failed", "added"], results
    assert list(outside.iterdir()) == []
    assert sorted(d.file for d in services.documents("kb")) == ["a.txt", "c.txt"]
    assert services.search("kb", "w2x", top_k=1, mode="fulltext")[0].file == "c.txt"


def test_the_same_name_twice_in_one_call_is_added_then_replaced(services, tmp_path):
    services.create_kb("kb", embedding="minilm-l6-v2-int8")
    first, second = _notes(tmp_path / "one", 1) + _notes(tmp_path / "two", 1, start=5)
    results = services.add_files("kb", [first, second], names=["same.txt", "same.txt"])
    assert [r.status for r in results] == ["added", "replaced"]
    [doc] = services.documents("kb")
    assert doc.file == "same.txt" and doc.status == "ready"
    assert [h.text for h in services.chunks("kb", "same.txt")] == [second.read_text(encoding="utf-8").strip()]


def test_a_small_add_to_a_big_table_leaves_optimizing_for_later_and_is_found_meanwhile(services, tmp_path):
    """Optimizing rewrites the table: it waits until the new rows are 1/UNINDEXED_SHARE of the indexed ones,
    and full-text search reads the rows not indexed yet."""
    services.create_kb("kb", embedding="minilm-l6-v2-int8")
    services.add_files("kb", _notes(tmp_path / "notes", 2 * UNINDEXED_SHARE))
    table = services.store.get("kb").chunks_table
    [fts] = [index.name for index in table.list_indices() if index.columns == ["content"]]
    assert table.index_stats(fts).num_unindexed_rows == 0
    late = tmp_path / "late.txt"
    late.write_text("A late note with the word zanzibar.\n", encoding="utf-8")
    assert services.add_files("kb", [late])[0].status == "added"
    assert table.index_stats(fts).num_unindexed_rows == 1
    assert services.search("kb", "zanzibar", top_k=1, mode="fulltext")[0].file == "late.txt"
    assert services.search("kb", "zanzibar", top_k=1)[0].file == "late.txt"
