"""The one rule for document names (chatchat.ingest.docnames): sub-paths kept, nothing escapes the folder,
the same name whichever way a file arrived, and no original reached through a link."""

from __future__ import annotations

import pytest

from chatchat.ingest.docnames import kept_files, original_path, safe_file_name
from chatchat.errors import InvalidName


@pytest.mark.parametrize(("sent", "kept"), [
    ("wiki/Home.MD", "wiki/Home.MD"),  # a folder upload's relative path
    ("sub\\test.txt", "sub/test.txt"),  # as Windows sends it
    ("a/./b//c.md", "a/b/c.md"),
    ("new\nline.txt", "newline.txt"),
    ("new%0Aline.txt", "newline.txt"),  # what browsers and httpx send for the name above
    ('say%22hi%22.md', 'say"hi".md'),
    (".env.md", ".env.md"),  # a leading dot is part of the name
    ("report. ", "report"),  # trailing dots and spaces: Windows drops them
    ("../../etc/passwd.txt", "passwd.txt"),
    ("/etc/passwd.txt", "passwd.txt"),
    ("C:\\Users\\x\\报告.md", "报告.md"),
    ("ok/../../nested.md", "nested.md"),
    ("a\x00b.txt", "ab.txt"),
])
def test_names_as_kept(sent, kept):
    assert safe_file_name(sent) == kept
    assert safe_file_name(kept) == kept  # a kept name names itself


@pytest.mark.parametrize("sent", ["", "..", "../..", "/", " . / .. ", "\x00"])
def test_names_that_name_nothing(sent):
    with pytest.raises(InvalidName):
        safe_file_name(sent)


def test_long_names_stay_within_limits():
    name = safe_file_name("/".join(["d" * 150] * 4) + "/" + "x" * 300 + ".md")
    assert len(name) <= 255 and name.endswith(".md") and all(len(p.encode()) <= 200 for p in name.split("/"))


def test_no_original_through_a_link(tmp_path):
    (tmp_path / "wiki").mkdir()
    (tmp_path / "wiki" / "Home.md").write_text("home", encoding="utf-8")
    (tmp_path / "passwd.txt").symlink_to("/etc/passwd")
    (tmp_path / "etc").symlink_to("/etc", target_is_directory=True)
    assert original_path(tmp_path, "wiki/Home.md") == tmp_path / "wiki" / "Home.md"
    for name in ("passwd.txt", "etc/passwd", "../x.md"):
        with pytest.raises(InvalidName):
            original_path(tmp_path, name)
    assert kept_files(tmp_path) == ["passwd.txt", "wiki/Home.md"]  # the ingest job refuses the link, and says so
