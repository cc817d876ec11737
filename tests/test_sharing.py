"""Several processes, one index directory and one database: a build another process made live is swapped in, a build
is removed only once nobody serves it, a broken build is never swapped in, and concurrent writers to the SQLite file
all land. Real index files, real model, real subprocesses for what crosses processes."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.embedding import Embedder
from bot.index import build_index, current_build
from bot.service import AnswerService
from tests.conftest import PROJECT_ROOT

NEW_DOC = (
    "---\ntitle: Office hours\n---\n\n## Office hours\n\nMaintainers hold contributor office hours every third "
    "Wednesday, pairing with newcomers on their first pull request.\n"
)
NEW_QUESTION = "when are the contributor office hours?"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(
        "---\ntitle: Welcome guide\n---\n\n## Meetings\n\nThe community meets every Thursday at 17:00 UTC. "
        "Everyone is welcome to join.\n\n## Reviews\n\nEvery change needs one review from an owner.\n",
        encoding="utf-8",
    )
    return corpus


def serving(corpus: Path, index_dir: Path, embedder: Embedder, precision: str | None = None) -> AnswerService:
    service = (
        AnswerService(corpus, index_dir, embedder, encoder_precision=precision)
        if precision
        else AnswerService(corpus, index_dir, embedder)
    )
    service.load(notify=lambda message: None)
    return service


def builds(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.iterdir() if p.name.startswith("build-")}


def quotes(service: AnswerService, question: str) -> str:
    answer = service.ask(question)
    return " ".join(r.quote for r in answer.results) if answer.answered else ""


def test_a_build_made_live_elsewhere_is_swapped_in(corpus: Path, tmp_path: Path, embedder: Embedder):
    index_dir = tmp_path / "index"
    first, second = serving(corpus, index_dir, embedder), serving(corpus, index_dir, embedder)
    old = second.snapshot
    assert second.follow_current() is False, "nothing new yet"

    (corpus / "office-hours.md").write_text(NEW_DOC, encoding="utf-8")
    first.reindex()
    assert "office hours every third Wednesday" in quotes(first, NEW_QUESTION)
    assert "office hours every third Wednesday" not in quotes(second, NEW_QUESTION), "not followed yet"
    assert second.snapshot is old

    assert second.follow_current() is True
    assert second.snapshot.index.path == first.snapshot.index.path == current_build(index_dir)
    assert second.snapshot.generation == old.generation + 1
    assert "office hours every third Wednesday" in quotes(second, NEW_QUESTION)
    assert second.follow_current() is False, "followed once"


def test_a_build_is_removed_only_once_nobody_serves_it(corpus: Path, tmp_path: Path, embedder: Embedder):
    index_dir = tmp_path / "index"
    first, second = serving(corpus, index_dir, embedder), serving(corpus, index_dir, embedder)
    original = current_build(index_dir)
    assert original is not None

    (corpus / "office-hours.md").write_text(NEW_DOC, encoding="utf-8")
    first.reindex()
    middle = current_build(index_dir)
    assert builds(index_dir) == {original.name, middle.name}, "the second service still serves the original"
    second.follow_current()

    (corpus / "faq.txt").write_text("FAQ\n\nThe mailing list is the best place to ask long questions.\n")
    first.reindex()
    latest = current_build(index_dir)
    assert builds(index_dir) == {middle.name, latest.name}, "the original was let go; the middle one is served"
    second.follow_current()
    build_index(corpus, index_dir, first.query_encoder)  # `python -m bot index`: nothing new, a fresh build
    assert builds(index_dir) == {current_build(index_dir).name, latest.name}, "both services serve `latest`"


def test_a_lease_held_by_another_process_keeps_its_build(corpus: Path, tmp_path: Path, embedder: Embedder):
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, embedder)
    leased = current_build(index_dir)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from pathlib import Path
                from bot.lease import BuildLease
                lease = BuildLease.take(Path({str(leased)!r}))
                print("held" if lease else "missing", flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        (corpus / "faq.txt").write_text("FAQ\n\nThe mailing list is the best place to ask long questions.\n")
        build_index(corpus, index_dir, embedder)
        assert leased.is_dir(), "another process serves it"
    finally:
        holder.communicate("\n", timeout=30)
    build_index(corpus, index_dir, embedder, reuse=False)
    assert not leased.exists(), "its reader exited, so the next build removes it"
    assert builds(index_dir) == {current_build(index_dir).name}


def test_a_broken_new_build_is_logged_once_and_the_old_one_keeps_serving(
    corpus: Path, tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
):
    index_dir = tmp_path / "index"
    first, second = serving(corpus, index_dir, embedder), serving(corpus, index_dir, embedder)
    old = second.snapshot
    (corpus / "office-hours.md").write_text(NEW_DOC, encoding="utf-8")
    first.reindex()
    (first.snapshot.index.path / "windows.faiss").write_bytes(b"not an index")

    with caplog.at_level(logging.ERROR, logger="bot.service"):
        assert second.follow_current() is False
        assert second.follow_current() is False
    assert second.snapshot is old
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, "logged once, not at every check"
    assert "cannot be loaded" in errors[0] and "windows.faiss" in errors[0] and old.index.path.name in errors[0]
    assert "one review from an owner" in quotes(second, "how many reviews does a change need?")

    first.reindex()  # fixed by the next build: followed again
    assert second.follow_current() is True
    assert "office hours every third Wednesday" in quotes(second, NEW_QUESTION)


def test_a_build_made_by_the_other_encoder_precision_is_not_followed(
    corpus: Path, tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
):
    index_dir = tmp_path / "index"
    int8 = serving(corpus, index_dir, embedder, "int8")
    fp32 = serving(corpus, index_dir, embedder, "fp32")  # finds int8 vectors: rebuilds them as its own
    assert fp32.snapshot.index.manifest["model"]["runtime"] == "onnxruntime"
    old = fp32.snapshot
    assert int8.follow_current() is False  # an fp32 build: not searched with int8 questions
    (corpus / "office-hours.md").write_text(NEW_DOC, encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="bot.service"):
        int8.reindex()
        assert fp32.follow_current() is False
        assert fp32.follow_current() is False
    assert fp32.snapshot is old
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and "embedded by the fp32 encoder, and int8 is configured" in errors[0]
    assert "embedded by the int8 encoder, and fp32 is configured (ENCODER_PRECISION)" in errors[1]


def test_processes_writing_one_database_at_once_all_land(tmp_path: Path):
    database = tmp_path / "bot.sqlite3"
    writer = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from bot.store import Store
        store = Store(Path({str(database)!r}))
        for n in range(150):
            store.record_question(f"question {{n}} from {{sys.argv[1]}}", answered=True, confidence=0.7, via="cli")
            store.set_meta("last:" + sys.argv[1], str(n))
        """
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", writer, str(w)], cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    for process in writers:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    from bot.store import Store

    store = Store(database)
    assert store.stats().asked == 600
    assert [store.get_meta(f"last:{w}") for w in range(4)] == ["149"] * 4
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
