"""Corpus management (bot.corpus): real files, a real SQLite file, real index builds with the real model."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.corpus import (
    MAX_UPLOAD_BYTES,
    AlreadyExists,
    CorpusBusy,
    CorpusChangeError,
    CorpusManager,
    UnknownDocument,
    check_filename,
    html_to_markdown,
    parse_document,
)
from bot.embedding import Embedder
from bot.index import build_index, current_build, load_index, read_manifest
from bot.retrieval import Retriever
from tests.conftest import INTERVIEW_TXT

WALRUS = (
    b"# Mascot guide\n\n"
    b"## Who is the mascot?\n\n"
    b"The project mascot is a purple walrus named Gustavo who loves reviewing pull requests. "
    b"Gustavo wears a tiny orange scarf at every community meeting.\n\n"
    b"## Where can I meet Gustavo?\n\n"
    b"You can meet Gustavo at the monthly newcomer call, where he hands out virtual stickers to first-time "
    b"contributors.\n"
)
WALRUS_V2 = WALRUS.replace(b"purple walrus", b"green walrus").replace(b"orange scarf", b"yellow hat")
HELLO = b"Hello and welcome\n\nNewcomers should read the code of conduct before they open their first issue.\n"
SCRIPTS_ONLY = (
    b"<!doctype html><html><head><title></title><script>fetch('/steal?c=' + document.cookie)</script>"
    b"<style>body { display: none }</style></head><body onload=\"alert('x')\">"
    + b"<script>alert('hello there, this is not text to quote')</script>" * 200
    + b"<noscript>Please enable JavaScript to view this page properly.</noscript>"
    + b"<template><p>A template paragraph that is never shown to anyone.</p></template>"
    + b"<iframe src='https://example.com'>Your browser does not support frames at all.</iframe>"
    + b"<!-- a comment that has many words in it but is not shown --></body></html>"
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Workspace:
    def __init__(self, root: Path, embedder: Embedder) -> None:
        self.root = root
        self.corpus = root / "corpus"
        self.index = root / "index"
        self.database = root / "data" / "bot.sqlite3"
        self.archive = root / "data" / "archive"
        self.embedder = embedder
        self.builds = 0

    def reindex(self) -> object:
        self.builds += 1
        return build_index(self.corpus, self.index, self.embedder)

    def manager(self, reindex: Callable[[], object] | None = None) -> CorpusManager:
        return CorpusManager(self.corpus, self.database, self.archive, reindex or self.reindex, index_dir=self.index)

    def state(self) -> dict[str, object]:
        """Everything a change could touch: corpus files (hidden ones too), database rows, archive, live index."""
        files = {
            p.relative_to(self.root).as_posix(): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()
        }
        files = {k: v for k, v in files.items() if not k.startswith("index/") and not k.startswith("data/bot.sqlite3")}
        rows: dict[str, list[tuple]] = {}
        if self.database.exists():
            with sqlite3.connect(self.database) as db:
                for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
                    rows[table] = db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        build = current_build(self.index)
        return {"files": files, "rows": rows, "current": build.name if build else None}

    def indexed(self) -> dict[str, str]:
        build = current_build(self.index)
        assert build is not None
        return read_manifest(build)["indexed"]

    def corpus_hashes(self) -> dict[str, str]:
        return {p.name: sha(p.read_bytes()) for p in self.corpus.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def interview_base(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The interview (tests/fixtures) and one small document, indexed once for the module."""
    root = tmp_path_factory.mktemp("corpus-admin")
    (root / "corpus").mkdir()
    shutil.copy(INTERVIEW_TXT, root / "corpus" / "interview.txt")
    (root / "corpus" / "hello.txt").write_bytes(HELLO)
    build_index(root / "corpus", root / "index", embedder)
    return root


@pytest.fixture
def ws(tmp_path: Path, interview_base: Path, embedder: Embedder) -> Workspace:
    shutil.copytree(interview_base / "corpus", tmp_path / "corpus")
    shutil.copytree(interview_base / "index", tmp_path / "index")
    return Workspace(tmp_path, embedder)


@pytest.fixture
def tiny(tmp_path: Path, embedder: Embedder) -> Workspace:
    """A two-document corpus that builds in a moment, for round trips that reindex many times."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "hello.txt").write_bytes(HELLO)
    space = Workspace(tmp_path, embedder)
    space.reindex()
    return space


def quoted_sources(retriever: Retriever, question: str) -> list[str]:
    answer = retriever.answer(question)
    return [r.source for r in answer.results] if answer.answered else []


# --- bad input ----------------------------------------------------------------------------------------------------

BAD_INPUTS = [
    ("../../.env", b"DISCORD_TOKEN=secret and more words here\n", "not a path"),
    ("/etc/cron.d/evil.md", b"# Evil\n\nThis text would be written outside the corpus.\n", "not a path"),
    ("..\\..\\guide.md", b"# Guide\n\nThis text would be written outside the corpus.\n", "not a path"),
    ("..", b"some words that are long enough to quote.\n", "must not start with a dot"),
    (".env", b"DISCORD_TOKEN=secret and more words here\n", "must not start with a dot"),
    ("guide\x1b[2J.md", b"# Guide\n\nA perfectly fine paragraph of text to quote.\n", "control characters"),
    ("guide\n.md", b"# Guide\n\nA perfectly fine paragraph of text to quote.\n", "control characters"),
    ("gui\u202ede.md", b"# Guide\n\nA perfectly fine paragraph of text to quote.\n", "control characters"),
    ("x" * 120 + ".md", b"# Guide\n\nA perfectly fine paragraph of text to quote.\n", "too long"),
    ("guide.pdf", b"%PDF-1.4 some words that are long enough\n", "not supported"),
    ("guide", b"some words that are long enough to quote.\n", "without an extension"),
    ("", b"some words that are long enough to quote.\n", "needs a name"),
    ("logo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary or not UTF-8"),
    ("latin.txt", "Caf\xe9 cr\xe8me and more words to quote here.\n".encode("latin-1"), "binary or not UTF-8"),
    ("empty.md", b"", "empty"),
    ("blank.txt", b"  \n\n\t \r\n", "empty"),
    ("bom-only.md", b"\xef\xbb\xbf\n", "empty"),
    ("huge.md", b"# Huge\n\n" + b"x" * MAX_UPLOAD_BYTES, "too large"),
    ("page.html", SCRIPTS_ONLY, "no readable text"),
    ("short.md", b"# Title\n\nHi there.\n\n```\ncode only here and nothing else\n```\n", "no quotable text"),
    ("broken.md", b"---\ntitle: [unclosed\n---\n\nSome words that are long enough to quote.\n", "front matter"),
]


@pytest.mark.parametrize(
    ("filename", "data", "message"), BAD_INPUTS, ids=[b[2] + ":" + repr(b[0])[:20] for b in BAD_INPUTS]
)
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(
    ws: Workspace, filename: str, data: bytes, message: str
):
    manager = ws.manager()
    manager.recover()  # the tables exist, so "nothing changed" includes the database rows
    before = ws.state()
    with pytest.raises(CorpusChangeError) as preview_error:
        manager.prepare(filename, data)
    for replace in (False, True):
        with pytest.raises(CorpusChangeError) as add_error:
            manager.add(filename, data, actor="mod (1)", replace=replace)
        assert str(add_error.value) == str(preview_error.value)
    text = str(preview_error.value)
    assert message in text and "\n" not in text and len(text) < 200, text
    assert ws.state() == before
    assert ws.builds == 0
    assert manager.history() == [] and manager.versions() == []


def test_a_50_mb_upload_is_refused_by_size(ws: Workspace):
    data = (b"A line of perfectly ordinary text that repeats.\n" * (50_000_000 // 48 + 1))[:50_000_000]
    before = ws.state()
    with pytest.raises(CorpusChangeError, match=rf"too large \(50,000,000 bytes; the limit is {MAX_UPLOAD_BYTES:,}\)"):
        ws.manager().add("big.md", data, actor="mod")
    assert ws.state() == before


def test_replacing_with_bad_content_keeps_the_old_document(ws: Workspace):
    manager = ws.manager()
    manager.recover()
    before = ws.state()
    for data in (b"", b"\x00\x01binary words here", b"Hi.", "caf\xe9 and more words".encode("latin-1")):
        with pytest.raises(CorpusChangeError):
            manager.add("hello.txt", data, actor="mod", replace=True)
    assert ws.state() == before


def test_file_names_that_are_fine():
    assert check_filename("guide.md") == "guide.md"
    assert check_filename("Contributor Guide (2024).txt") == "Contributor Guide (2024).txt"
    assert check_filename("página.md") == "página.md"
    assert check_filename("faq.HTML") == "faq.md"  # HTML is stored converted
    assert check_filename("faq.htm") == "faq.md"


# --- preview ------------------------------------------------------------------------------------------------------


def test_preview_counts_what_the_index_then_holds(ws: Workspace):
    manager = ws.manager()
    preview = manager.prepare("walrus.md", WALRUS)
    assert (preview.name, preview.title, preview.replaces) == ("walrus.md", "Mascot guide", False)
    assert preview.sections == ["Who is the mascot?", "Where can I meet Gustavo?"]
    assert (preview.paragraphs, preview.size, preview.digest) == (2, len(WALRUS), sha(WALRUS))
    assert not (ws.corpus / "walrus.md").exists()  # a preview writes nothing

    change = manager.add("walrus.md", WALRUS, actor="mod (1)", expected=preview.digest)
    assert change.action == "add" and change.archived_version is None
    assert change.summary.startswith(f"Added walrus.md: {preview.passages} passages; index updated in ")
    index = load_index(ws.index)
    doc = next(i for i, d in enumerate(index.documents) if d["name"] == "walrus.md")
    windows = Counter(index.paragraphs[int(p)].doc for p in index.window_para)
    assert windows[doc] == preview.passages
    assert manager.prepare("walrus.md", WALRUS_V2).replaces


def test_the_preview_digest_guards_against_a_different_file(ws: Workspace):
    manager = ws.manager()
    preview = manager.prepare("walrus.md", WALRUS)
    with pytest.raises(CorpusChangeError, match="not the one previewed"):
        manager.add("walrus.md", WALRUS_V2, actor="mod", expected=preview.digest)
    assert not (ws.corpus / "walrus.md").exists()


# --- round trips --------------------------------------------------------------------------------------------------


def test_added_document_is_quoted_and_a_removed_one_no_longer(ws: Workspace, embedder: Embedder):
    question = "what is the name of the project mascot walrus?"
    manager = ws.manager()
    assert "Mascot guide" not in quoted_sources(Retriever(load_index(ws.index), embedder), question)

    manager.add("walrus.md", WALRUS, actor="alice (1)")
    retriever = Retriever(load_index(ws.index), embedder)
    answer = retriever.answer(question)
    assert answer.answered and answer.results[0].source == "Mascot guide"
    assert "purple walrus named Gustavo" in answer.results[0].quote
    assert ws.indexed() == ws.corpus_hashes()

    removed = manager.remove("walrus.md", actor="bob (2)")
    assert removed.archived_version is not None
    assert not (ws.corpus / "walrus.md").exists()
    assert "Mascot guide" not in quoted_sources(Retriever(load_index(ws.index), embedder), question)
    assert ws.indexed() == ws.corpus_hashes()

    restored = manager.restore(removed.archived_version, actor="carol (3)")
    assert restored.action == "restore" and restored.archived_version is None
    assert (ws.corpus / "walrus.md").read_bytes() == WALRUS
    assert quoted_sources(Retriever(load_index(ws.index), embedder), question)[0] == "Mascot guide"
    assert [(e.action, e.actor) for e in manager.history()] == [
        ("restore", "carol (3)"),
        ("remove", "bob (2)"),
        ("add", "alice (1)"),
    ]


def test_every_replaced_or_removed_version_restores_exactly(tiny: Workspace):
    manager = tiny.manager()
    v1 = WALRUS.replace(b"\n", b"\r\n")  # exact bytes, line ends included
    manager.add("walrus.md", v1, actor="alice")
    with pytest.raises(AlreadyExists, match="already exists"):
        manager.add("walrus.md", WALRUS_V2, actor="bob")
    with pytest.raises(CorpusChangeError, match="already holds exactly this text"):
        manager.add("walrus.md", v1, actor="bob", replace=True)
    replaced = manager.add("walrus.md", WALRUS_V2, actor="bob", replace=True)
    assert replaced.action == "replace" and replaced.summary.startswith(
        f"Replaced walrus.md (old text kept as version {replaced.archived_version})"
    )
    removed = manager.remove("walrus.md", actor="carol")
    versions = manager.versions("walrus.md")
    assert [(v.id, v.reason, v.actor, v.size) for v in versions] == [
        (removed.archived_version, "removed", "carol", len(WALRUS_V2)),
        (replaced.archived_version, "replaced", "bob", len(v1)),
    ]
    assert manager.removed_names() == ["walrus.md"]

    back = manager.restore(replaced.archived_version, actor="dave")
    assert (tiny.corpus / "walrus.md").read_bytes() == v1 and back.archived_version is None
    again = manager.restore(removed.archived_version, actor="dave")  # the current text (v1) is archived first
    assert (tiny.corpus / "walrus.md").read_bytes() == WALRUS_V2
    assert again.archived_version is not None
    assert manager.versions()[0].digest == sha(v1)
    with pytest.raises(CorpusChangeError, match="already holds version"):
        manager.restore(removed.archived_version, actor="dave")
    assert tiny.indexed() == tiny.corpus_hashes()
    history = manager.history()
    assert [e.action for e in history] == ["restore", "restore", "remove", "replace", "add"]
    assert history[0].version == again.archived_version and history[0].detail.startswith(
        f"version {removed.archived_version} (removed "
    )
    assert len(manager.history(limit=2)) == 2
    assert {e.name for e in manager.history(name="hello.txt")} == set()


def test_html_is_stored_as_markdown_text_without_its_scripts(tiny: Workspace, embedder: Embedder):
    page = (
        b"<html><head><title>Newcomer FAQ</title><script>document.write('<p>injected words here</p>')</script>"
        b"<style>p { color: red }</style></head><body><nav><a href='/'>Home</a> <a href='/faq'>FAQ</a></nav>"
        b"<h1>Newcomer FAQ</h1><h2>When are office hours?</h2>"
        b"<p>Office hours happen every Thursday at 16:00 UTC on the community video call &amp; chat.</p>"
        b"<ul><li>Bring your <a href='https://example.com/q'>questions about triage</a> and good humour.</li></ul>"
        b"<!-- hidden note: office hours are secret --></body></html>"
    )
    manager = tiny.manager()
    preview = manager.prepare("faq.html", page)
    assert (preview.name, preview.title, preview.sections) == ("faq.md", "Newcomer FAQ", ["When are office hours?"])
    manager.add("faq.html", page, actor="mod")
    stored = (tiny.corpus / "faq.md").read_text(encoding="utf-8")
    assert not (tiny.corpus / "faq.html").exists()
    for absent in ("script", "injected", "color: red", "secret", "Home", "<"):
        assert absent not in stored
    assert "Office hours happen every Thursday at 16:00 UTC on the community video call \\& chat." in stored
    answer = Retriever(load_index(tiny.index), embedder).answer("when are the office hours?")
    assert answer.answered and answer.results[0].source == "Newcomer FAQ"
    assert answer.results[0].quote.startswith("Office hours happen every Thursday at 16:00 UTC")


def test_html_conversion_keeps_structure_and_drops_what_is_not_text():
    page = (
        "<html><head><title>Docs</title><meta name='description' content='How we work together, in short.'>"
        "</head><body><h1>Docs</h1><h2>Review &amp; <a href='https://example.com/r'>merge</a></h2>"
        "<p>Use <code>make test</code> before *every* push; 1 + 1 = 2.</p>"
        "<ol><li>Fork the repository on GitHub.</li><li><p>Open a pull request with a clear title.</p></li></ol>"
        "<blockquote><p>Be kind to every reviewer you meet.</p></blockquote>"
        "<pre>$ make test\n$ git push</pre>"
        "<p>Click <a href='javascript:alert(1)'>here</a> or <a href='#top'>go up</a> now.</p>"
        "<p>3. Not a list, just a sentence that starts with a number.</p>"
        "<table><tr><td>a table cell with several words</td></tr></table>"
        "<script>var text = 'never shown to anyone at all';</script><div>Last words of the page here.</div>"
        "<iframe src='x'>frame text that is never shown</iframe>"
    )
    markdown = html_to_markdown(page)
    assert markdown == (
        "---\ntitle: Docs\ndescription: How we work together, in short.\n---\n\n"
        "# Docs\n\n"
        "## Review \\& [merge](https://example.com/r)\n\n"
        "Use make test before \\*every\\* push; 1 + 1 = 2.\n\n"
        "- Fork the repository on GitHub.\n\n"
        "- Open a pull request with a clear title.\n\n"
        "> Be kind to every reviewer you meet.\n\n"
        "```\n$ make test\n$ git push\n```\n\n"
        "Click here or go up now.\n\n"
        "3\\. Not a list, just a sentence that starts with a number.\n\n"
        "Last words of the page here.\n"
    )
    doc = parse_document(markdown, "docs.md")
    assert doc.title == "Docs"
    assert "How we work together, in short." in doc.about  # a description helps find the document, not quoted
    assert [(p.text, p.section, p.kind) for p in doc.paragraphs] == [
        ("Use make test before *every* push; 1 + 1 = 2.", ("Review & merge",), "prose"),
        ("Fork the repository on GitHub.", ("Review & merge",), "list"),
        ("Open a pull request with a clear title.", ("Review & merge",), "list"),
        ("Be kind to every reviewer you meet.", ("Review & merge",), "quote"),
        ("Click here or go up now.", ("Review & merge",), "prose"),
        ("3. Not a list, just a sentence that starts with a number.", ("Review & merge",), "prose"),
        ("Last words of the page here.", ("Review & merge",), "prose"),
    ]


def test_unknown_names_and_versions_and_the_last_document(tiny: Workspace):
    manager = tiny.manager()
    before = tiny.state()
    with pytest.raises(UnknownDocument, match=r"no document named 'nope\.md'"):
        manager.remove("nope.md", actor="mod")
    with pytest.raises(UnknownDocument, match="no document named"):
        manager.remove("../corpus/hello.txt", actor="mod")
    with pytest.raises(UnknownDocument, match="no archived version 42"):
        manager.restore(42, actor="mod")
    with pytest.raises(UnknownDocument):
        manager.show("nope.md")
    with pytest.raises(CorpusChangeError, match="only document that can be quoted"):
        manager.remove("hello.txt", actor="mod")
    after = tiny.state()
    after["rows"] = {k: v for k, v in after["rows"].items() if v}  # the tables now exist, empty
    assert after == before


def test_a_damaged_archive_copy_is_refused(tiny: Workspace):
    manager = tiny.manager()
    manager.add("walrus.md", WALRUS, actor="mod")
    removed = manager.remove("walrus.md", actor="mod")
    blob = tiny.archive / sha(WALRUS)[:2] / sha(WALRUS)
    blob.write_bytes(b"tampered")
    before = tiny.state()
    with pytest.raises(CorpusChangeError, match="missing or damaged"):
        manager.restore(removed.archived_version, actor="mod")
    assert tiny.state() == before


def test_list_show_and_autocomplete(ws: Workspace):
    manager = ws.manager()
    manager.add("walrus.md", WALRUS, actor="mod")
    (ws.corpus / "notes.txt").write_bytes(b"\xff\xfe")  # put there by hand: listed, but nothing to quote
    docs = {d.name: d for d in manager.list()}
    assert list(docs) == ["hello.txt", "interview.txt", "notes.txt", "walrus.md"]
    walrus = manager.show("walrus.md")
    assert walrus == docs["walrus.md"]
    assert (walrus.title, walrus.size, walrus.sections) == (
        "Mascot guide",
        len(WALRUS),
        ["Who is the mascot?", "Where can I meet Gustavo?"],
    )
    assert walrus.passages == manager.prepare("walrus2.md", WALRUS).passages
    assert walrus.first_passages[0].startswith("The project mascot is a purple walrus")
    assert walrus.indexed_at is not None
    assert docs["interview.txt"].title == "Community"  # the plain-text parser takes the first short line
    assert docs["notes.txt"].passages == 0 and docs["notes.txt"].indexed_at is None
    assert manager.names("in") == ["interview.txt"]
    assert manager.names("") == ["hello.txt", "interview.txt", "notes.txt", "walrus.md"]
    assert manager.names("WAL") == ["walrus.md"]
    assert manager.names("W") == ["walrus.md", "interview.txt"]  # prefix matches first, then the rest
    assert manager.names("txt") == ["hello.txt", "interview.txt", "notes.txt"]  # contains, after prefix matches
    assert manager.names("", limit=2) == ["hello.txt", "interview.txt"]
    assert manager.removed_names() == []


# --- concurrency --------------------------------------------------------------------------------------------------


def test_a_second_change_during_a_change_is_told_to_retry(tiny: Workspace):
    started, proceed = threading.Event(), threading.Event()

    def held_reindex() -> object:  # the real build, entered while the first change holds the lock
        started.set()
        assert proceed.wait(120)
        return tiny.reindex()

    first = tiny.manager(held_reindex)
    second = tiny.manager()
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(first.add("walrus.md", WALRUS, actor="alice")))
    thread.start()
    try:
        assert started.wait(120)
        for attempt in (
            lambda: second.add("hello2.txt", HELLO, actor="bob"),
            lambda: second.remove("hello.txt", actor="bob"),
            lambda: second.restore(1, actor="bob"),
        ):
            with pytest.raises(CorpusBusy, match=r"^Another corpus change is in progress; try again in a moment\.$"):
                attempt()
        assert second.recover() == []  # the first change is alive: recovery leaves it alone
    finally:
        proceed.set()
        thread.join()
    assert results and results[0].action == "add"
    second.add("hello2.txt", HELLO, actor="bob")  # once it is done, the retry succeeds
    assert sorted(p.name for p in tiny.corpus.iterdir()) == ["hello.txt", "hello2.txt", "walrus.md"]
    assert tiny.indexed() == tiny.corpus_hashes()
    assert [(e.action, e.name, e.actor) for e in second.history()] == [
        ("add", "hello2.txt", "bob"),
        ("add", "walrus.md", "alice"),
    ]


def test_changes_racing_from_many_threads_leave_corpus_history_and_index_consistent(tiny: Workspace):
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def change(i: int) -> None:
        barrier.wait()
        try:
            tiny.manager().add(f"doc{i}.txt", HELLO.replace(b"Newcomers", f"Newcomers number {i}".encode()), "m")
            outcomes.append("done")
        except CorpusBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=change, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "done" in outcomes and len(outcomes) == 4
    added = {e.name for e in tiny.manager().history()}
    assert len(added) == outcomes.count("done")
    assert {p.name for p in tiny.corpus.iterdir()} == {"hello.txt", *added}
    assert tiny.indexed() == tiny.corpus_hashes()
    assert not [p for p in tiny.corpus.iterdir() if p.name.startswith(".")]  # no temp file left behind
