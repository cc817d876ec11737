import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.documents import CorpusError
from bot.embedding import Embedder
from bot.index import BuildBusy
from bot.service import AnswerService, QueryBatcher, looks_like_question
from tests.conftest import CORPUS, GUIDES

WELCOME = (
    "---\ntitle: Welcome\n---\n\n## Joining\n\nEveryone is welcome to join the weekly meeting. "
    "Notes are taken in a shared document.\n\n## Reviews\n\nEvery change needs one review from an owner.\n"
)


@pytest.fixture
def tiny(tmp_path: Path, embedder: Embedder) -> AnswerService:
    """A service over two short documents, cheap to reindex."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(WELCOME, encoding="utf-8")
    (corpus / "faq.txt").write_text("FAQ\n\nThe mailing list is the best place to ask long questions.\n")
    svc = AnswerService(corpus, tmp_path / "index", embedder)
    svc.load(notify=lambda message: None)
    return svc


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> AnswerService:
    """The project corpus plus one guide; read-only tests share it."""
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(CORPUS / "jaice-singer-dumars-interview.md", corpus)
    shutil.copy(GUIDES / "non-code-contributions.md", corpus)
    svc = AnswerService(corpus, tmp_path_factory.mktemp("index"), embedder)
    svc.load(notify=lambda message: None)
    return svc


def test_reindex_reports_what_changed_and_swaps_in_the_new_index(tiny: AnswerService):
    before = tiny.snapshot
    first_indexed = {s.name: s.indexed_at for s in tiny.sources()}
    time.sleep(1.1)  # index times have one-second resolution
    corpus = tiny.corpus_dir
    (corpus / "faq.txt").unlink()
    (corpus / "welcome.md").write_text(WELCOME.replace("one review", "two reviews"), encoding="utf-8")
    (corpus / "meetings.md").write_text("# Meetings\n\nThe community meets every Thursday.\n", encoding="utf-8")
    report = tiny.reindex()
    assert (report.build.added, report.build.changed, report.build.removed) == (
        ["meetings.md"],
        ["welcome.md"],
        ["faq.txt"],
    )
    # welcome.md: one paragraph changed, one kept; faq.txt's paragraph gone; meetings.md's new
    assert (report.passages_added, report.passages_removed, report.passages_unchanged) == (2, 2, 1)
    assert tiny.snapshot.generation == before.generation + 1
    assert tiny.snapshot.index.path != before.index.path
    sources = {s.name: s for s in tiny.sources()}
    assert set(sources) == {"welcome.md", "meetings.md"}
    assert sources["welcome.md"].indexed_at > first_indexed["welcome.md"], "changed documents get a new time"
    assert "Thursday" in tiny.ask("When does the community meet?").results[0].quote

    (corpus / "meetings.md").write_text("# Meetings\n\nThe community meets every Friday.\n", encoding="utf-8")
    report = tiny.reindex()  # welcome.md is untouched: its two paragraphs are unchanged, never compared
    assert (report.build.changed, report.passages_added, report.passages_removed, report.passages_unchanged) == (
        ["meetings.md"],
        1,
        1,
        2,
    )


def test_a_failed_reindex_keeps_the_old_index_in_service(tiny: AnswerService):
    before = tiny.snapshot
    for path in tiny.corpus_dir.iterdir():
        path.unlink()
    with pytest.raises(CorpusError):
        tiny.reindex()
    assert tiny.snapshot is before
    assert "review" in tiny.ask("How many reviews does a change need?").results[0].quote
    assert not tiny.reindexing


def test_a_second_reindex_while_one_runs_is_refused(tiny: AnswerService):
    service = tiny
    started, release = threading.Event(), threading.Event()

    def slow_progress(done: int, total: int) -> None:
        started.set()
        release.wait(10)

    worker = threading.Thread(target=service.reindex, kwargs={"progress": slow_progress})
    worker.start()
    try:
        assert started.wait(30)
        assert service.reindexing
        with pytest.raises(BuildBusy):
            service.reindex()
        # questions are still answered from the live index meanwhile
        assert service.ask("How many reviews does a change need?").answered
    finally:
        release.set()
        worker.join()
    assert not service.reindexing


def test_quotes_do_not_repeat_within_a_channel(service: AnswerService):
    drawn = [service.quote(channel=1).text for _ in range(5)]
    assert len(set(drawn)) == 5
    # another channel keeps its own history
    assert service.quote(channel=2).text


def test_sources_count_passages_per_document(service: AnswerService):
    sources = {s.name: s for s in service.sources()}
    assert set(sources) == {"jaice-singer-dumars-interview.md", "non-code-contributions.md"}
    total = sum(s.passages for s in sources.values())
    assert total == len(service.snapshot.index.paragraphs)
    assert all(s.passages > 0 and s.indexed_at for s in sources.values())


def test_topics_suggest_questions_the_corpus_answers(service: AnswerService):
    topics = service.topics()
    assert 1 <= len(topics) <= 4
    headings = {p.section[-1] for p in service.snapshot.index.paragraphs if p.section}
    assert set(topics) <= headings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How do I start contributing", True),
        ("Is there a code of conduct?", True),
        ("I feel like an impostor, should I join?", True),
        ("Thanks everyone for the welcome!", False),
        ("Here is my PR: https://example.com/1", False),
        ("", False),
    ],
)
def test_looks_like_question(text: str, expected: bool):
    assert looks_like_question(text) is expected


def test_questions_asked_at_once_share_batched_model_calls(service: AnswerService):
    questions = [f"how do I help with {topic}?" for topic in ("docs", "testing", "reviews", "events", "design")] * 4
    alone = [service.ask(q) for q in questions]
    calls = service._queries.calls
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        together = list(pool.map(service.ask, questions))
    assert service._queries.calls - calls < len(questions)
    for a, b in zip(alone, together, strict=True):
        assert [r.quote for r in a.results] == [r.quote for r in b.results]
        assert abs(a.confidence - b.confidence) < 1e-4


def test_an_unchanged_document_keeps_the_time_it_was_first_indexed(tiny: AnswerService):
    first = {s.name: s.indexed_at for s in tiny.sources()}
    time.sleep(1.1)
    (tiny.corpus_dir / "meetings.md").write_text("# Meetings\n\nThe community meets every Thursday.\n")
    tiny.reindex()
    after = {s.name: s.indexed_at for s in tiny.sources()}
    assert after["welcome.md"] == first["welcome.md"] and after["faq.txt"] == first["faq.txt"]
    assert after["meetings.md"] > first["welcome.md"]


class FailingOnce:
    """A real encoder that fails its first call, as a model would on a bad input."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.failed = False
        self.name, self.fingerprint = inner.name, inner.fingerprint

    def encode(self, texts, batch_size=64, progress=None):
        if not self.failed:
            self.failed = True
            raise ValueError("simulated model failure")
        return self.inner.encode(texts, batch_size=batch_size)

    def encode_query(self, text):
        return self.encode([text])[0]


def test_a_failed_batch_fails_its_questions_and_the_next_ones_still_work(embedder: Embedder):
    batcher = QueryBatcher(FailingOnce(embedder))
    with pytest.raises(ValueError, match="simulated"):
        batcher.encode("how do I start?")
    with ThreadPoolExecutor(max_workers=8) as pool:
        vectors = list(pool.map(batcher.encode, [f"question {i}" for i in range(8)]))
    assert all(v.shape == (384,) for v in vectors)
