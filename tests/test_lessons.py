"""Moderators' lessons and readers' votes (bot/lessons.py), with the real model, real indexes and a real SQLite file;
the paraphrase measure of `make eval` (tools/evaluation.py) on the corpus + 8 guides; `python -m bot teach` as its
own process."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.embedding import Embedder, TextEncoder
from bot.index import build_index, load_index
from bot.lessons import (
    EVIDENCE_RANK,
    LESSON_SIMILARITY,
    VOTE_CAP,
    VOTE_STEP,
    VOTES_PER_PERSON,
    LessonBook,
    LessonError,
    TaughtDecline,
    TaughtResult,
    passage_of,
)
from bot.retrieval import Answer, Retriever
from bot.service import AnswerService
from tests.conftest import CORPUS, GUIDES
from tools.evaluation import LessonFigures, is_hit, measure_lessons

DEIS = "interviewed for an engineering job at Deis"


@pytest.fixture
def book(tmp_path: Path) -> LessonBook:
    return LessonBook(tmp_path / "bot.sqlite3")


def first(answer: Answer) -> str:
    return answer.results[0].quote if answer.answered and answer.results else ""


# --- teaching and applying ------------------------------------------------------------------------------------------


def test_a_taught_passage_comes_first_and_is_marked(retriever: Retriever, book: LessonBook):
    question = "when did jaice start at deis?"
    assert DEIS not in first(retriever.answer(question))  # wrong before: the lesson has something to fix
    lesson = book.teach(question, "mod", retriever.index, DEIS)
    assert lesson.document == "jaice-singer-dumars-interview.md" and DEIS in (lesson.passage or "")
    for wording in (question, "When did Jaice start at Deis"):
        answer = book.answer(retriever, wording)
        assert answer.answered and isinstance(answer.results[0], TaughtResult)
        assert DEIS in answer.results[0].quote and answer.results[0].lesson == lesson.id
        assert len(answer.results) == 3 and sum(DEIS in r.quote for r in answer.results) == 1  # shown once
    unrelated = book.answer(retriever, "what advice would jaice give to someone apprehensive about joining?")
    assert not any(isinstance(r, TaughtResult) for r in unrelated.results)
    assert [r.quote for r in unrelated.results] == [
        r.quote for r in retriever.answer("what advice would jaice give to someone apprehensive about joining?").results
    ]


def test_a_phrase_standing_twice_teaches_the_first_and_a_vague_one_is_refused(retriever: Retriever, book: LessonBook):
    # the interview repeats this sentence as a pull quote right after the paragraph that says it
    phrase = "curiosity is the door that everyone can open"
    lesson = book.teach("is curiosity enough to get started?", "mod", retriever.index, phrase)
    assert (lesson.passage or "").startswith("Secondly, curiosity is the door that everyone can open")
    with pytest.raises(LessonError, match="give a longer phrase"):  # different passages still need a longer one
        book.teach("what is kubernetes?", "mod", retriever.index, "Kubernetes")


def test_no_answer_lessons_decline_close_wordings_only(retriever: Retriever, book: LessonBook):
    question = "how did jaice get into kubernetes?"
    assert retriever.answer(question).answered
    book.teach_no_answer(question, "mod")
    declined = book.answer(retriever, "How did Jaice get into Kubernetes")
    assert isinstance(declined, TaughtDecline) and not declined.answered and declined.results == []
    assert book.answer(retriever, "what advice would jaice give to newcomers?").answered


def test_unknown_ambiguous_or_bad_input_changes_nothing(retriever: Retriever, book: LessonBook, tmp_path: Path):
    for phrase, message in (
        ("a phrase no document holds at all", "No passage contains"),
        ("Kubernetes", "passages"),  # in many paragraphs
        ("Deis", "at least"),  # too short to pick a passage
    ):
        with pytest.raises(LessonError, match=message):
            book.teach("when did jaice start at deis?", "mod", retriever.index, phrase)
    with pytest.raises(LessonError, match="Please type a question"):
        book.teach("   ", "mod", retriever.index, DEIS)
    with pytest.raises(LessonError, match="no lesson #7"):
        book.remove(7, "mod")
    assert book.lessons() == []
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM lessons").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM lesson_audit").fetchone()[0] == 0


def test_removed_lessons_stop_applying_and_stay_in_the_audit_log(retriever: Retriever, book: LessonBook):
    lesson = book.teach("when did jaice start at deis?", "mod", retriever.index, DEIS)
    other = LessonBook(book.database)  # the bot and the CLI: another connection sees the change at once
    assert isinstance(other.answer(retriever, "when did jaice start at deis?").results[0], TaughtResult)
    book.remove(lesson.id, "other mod")
    assert not isinstance(other.answer(retriever, "when did jaice start at deis?").results[0], TaughtResult)
    assert [(e.action, e.actor, e.lesson) for e in other.history()] == [
        ("remove", "other mod", lesson.id),
        ("teach", "mod", lesson.id),
    ]
    with pytest.raises(LessonError):
        book.remove(lesson.id, "mod")  # once


def test_a_lesson_whose_text_is_gone_after_a_reindex_is_flagged_and_never_quoted(tmp_path: Path, embedder: Embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    guide = corpus / "meetings.md"
    guide.write_text(
        "# Meetings\n\n## When\n\nThe community meets every Thursday at 17:00 UTC on Zoom.\n\n"
        "## Notes\n\nNotes are kept in a shared document that anyone can edit.\n",
        encoding="utf-8",
    )
    service = AnswerService(corpus, tmp_path / "index", embedder)
    service.load(notify=lambda message: None)
    book = LessonBook(tmp_path / "bot.sqlite3")
    question = "when is the weekly call?"
    lesson = book.teach(question, "mod", service.snapshot.index, "every Thursday at 17:00")
    assert isinstance(service.ask(question, 3, book).results[0], TaughtResult)

    guide.write_text(guide.read_text().replace("every Thursday at 17:00 UTC", "every Tuesday at 09:00 UTC"))
    service.reindex()
    assert book.flagged(service.snapshot.index) == {lesson.id}
    assert [item.id for item in book.lessons()] == [lesson.id]  # kept, not dropped
    answer = service.ask(question, 3, book)
    assert not any(isinstance(r, TaughtResult) for r in answer.results)
    assert all("Thursday" not in r.quote for r in answer.results)

    guide.write_text(guide.read_text().replace("every Tuesday at 09:00 UTC", "every Thursday at 17:00 UTC"))
    service.reindex()  # the text is back: so is the lesson
    assert book.flagged(service.snapshot.index) == set()
    assert isinstance(service.ask(question, 3, book).results[0], TaughtResult)


# --- readers' votes -------------------------------------------------------------------------------------------------


def test_votes_move_a_passage_a_little_and_count_once_per_person(retriever: Retriever, book: LessonBook):
    question = "how did jaice get into kubernetes?"
    before = retriever.answer(question, 5).results
    top = before[0]
    shown = book.answer(retriever, question)
    book.record_shown(1, shown)
    for user in range(10):  # ten readers find the first passage unhelpful
        assert book.vote(1, user, helpful=False)
    after = book.answer(retriever, "How did Jaice get into Kubernetes", 5).results
    moved = next(r for r in after if passage_of(r) == passage_of(top))  # still offered: a few votes bury nothing
    assert moved.score == pytest.approx(
        next(r for r in retriever.answer("How did Jaice get into Kubernetes", 5).results if r.quote == top.quote).score
        - VOTE_STEP * VOTE_CAP,
        abs=1e-6,
    )
    # one person's votes count once per passage: voting again replaces the vote
    book.record_shown(2, shown)
    assert book.vote(2, 0, helpful=True) and book.vote(1, 0, helpful=True)
    with sqlite3.connect(book.database) as db:
        assert db.execute("SELECT COUNT(*), SUM(helpful) FROM passage_votes").fetchone() == (10, 1)
    assert not book.vote(99, 0, helpful=True)  # an answer whose passage was never recorded


def test_only_a_persons_latest_votes_count(retriever: Retriever, book: LessonBook):
    question = "how did jaice get into kubernetes?"
    top = retriever.answer(question, 5).results[0]
    book.record_shown(1, Answer(question, True, [top]))
    for user in range(VOTE_CAP):  # enough readers to move it by the cap, one of them the busy voter (user 0)
        assert book.vote(1, user, helpful=False)
    lowered = next(r for r in book.answer(retriever, question, 5).results if r.quote == top.quote)
    assert lowered.score == pytest.approx(top.score - VOTE_STEP * VOTE_CAP, abs=1e-6)

    # user 0 then votes on VOTES_PER_PERSON other passages: their vote on the first no longer counts
    others = [r for r in retriever.answer("what does the release team do?", 40).results if r.quote != top.quote]
    others = list({passage_of(r): r for r in others}.values())[:VOTES_PER_PERSON]
    assert len(others) == VOTES_PER_PERSON
    for question_id, result in enumerate(others, start=2):
        book.record_shown(question_id, Answer("what does the release team do?", True, [result]))
        assert book.vote(question_id, 0, helpful=True)
    after = next(r for r in book.answer(retriever, question, 5).results if r.quote == top.quote)
    assert after.score == pytest.approx(top.score - VOTE_STEP * (VOTE_CAP - 1), abs=1e-6)


def test_helpful_votes_raise_a_passage_for_close_questions_only(retriever: Retriever, book: LessonBook):
    question = "how did jaice get into kubernetes?"
    results = retriever.answer(question, 5).results
    second = results[1]
    gap = results[0].score - second.score
    book.record_shown(1, Answer(question, True, [second]))
    for user in range(5):
        book.vote(1, user, helpful=True)
    raised = book.answer(retriever, question, 5).results
    mine = next(r for r in raised if r.quote == second.quote)
    assert mine.score == pytest.approx(second.score + VOTE_STEP * VOTE_CAP, abs=1e-6)
    assert (raised[0].quote == second.quote) == (gap < VOTE_STEP * VOTE_CAP)
    far = "what advice would jaice give to someone apprehensive about joining?"
    assert [r.score for r in book.answer(retriever, far, 5).results] == [
        r.score for r in retriever.answer(far, 5).results
    ]


@pytest.fixture(scope="module")
def guides_retriever(tmp_path_factory: pytest.TempPathFactory, fast_encoder: TextEncoder) -> Retriever:
    """Retrieval over the corpus + 8 guides, as the bot builds and serves it."""
    folder = tmp_path_factory.mktemp("guides")
    corpus = folder / "corpus"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(GUIDES, corpus / "k8s-contributor-guide")
    build_index(corpus, folder / "index", fast_encoder)
    return Retriever(load_index(folder / "index"), fast_encoder)


FORK = "periodically fetch changes from the upstream repository"


def test_a_less_close_wording_takes_the_lesson_only_on_evidence(guides_retriever: Retriever, tmp_path: Path):
    retriever = guides_retriever
    book = LessonBook(tmp_path / "bot.sqlite3")
    book.teach("how do i keep my fork up to date", "mod", retriever.index, FORK)

    def ranks(question: str) -> list[bool]:
        return [FORK in r.quote for r in retriever.answer(question, EVIDENCE_RANK).results]

    def similarity(question: str) -> float:
        return book.match(retriever.embedder.encode_query(retriever.rewrite(question)[0]), retriever)[1]

    # further from the taught question than LESSON_SIMILARITY (match() without retrieval's answer finds nothing),
    # not first in retrieval's own answer but among its first results, and sharing a rare word ("fork"): taken
    asked = "sync my fork with upstream how"
    assert similarity(asked) < LESSON_SIMILARITY and any(ranks(asked)[1:]) and not ranks(asked)[0]
    answer = book.answer(retriever, asked)
    assert isinstance(answer.results[0], TaughtResult) and FORK in answer.results[0].quote
    # the passage among retrieval's first results too, but no rare word in common with the taught question: as before
    for other in ("how do i update my local branch", "how do i get the newest code from the main repo"):
        assert any(ranks(other)) and not ranks(other)[0]
        assert [r.quote for r in book.answer(retriever, other).results] == [
            r.quote for r in retriever.answer(other).results
        ]
    # a fork question whose results do not hold the passage, and a declined one: as before
    for other in ("how do i fork the repo", "what's the weather in amsterdam"):
        assert not any(ranks(other))
        before, after = retriever.answer(other), book.answer(retriever, other)
        assert after.answered == before.answered and [r.quote for r in after.results] == [
            r.quote for r in before.results
        ]


# --- the measure (make eval) ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory, guides_retriever: Retriever) -> LessonFigures:
    """tools.evaluation's lessons measure on the corpus + 8 guides, with a fresh SQLite file."""
    return measure_lessons(guides_retriever, tmp_path_factory.mktemp("lessons") / "bot.sqlite3")


def test_lessons_leave_the_rest_alone(figures: LessonFigures):
    # the taught questions were chosen as ones the bot answered wrongly (all 20 when written); the tuned ranking
    # (make tune) now answers two of them itself, and a lesson must not undo that
    assert figures.lessons == 20 and figures.wrong_before >= 16
    assert figures.asked == 40
    assert abs(figures.hit1_after - figures.hit1_before) <= 0.01, figures.lines()
    assert figures.off_topic >= 30 and figures.off_topic_by_lesson == 0


@pytest.mark.xfail(
    strict=True,
    reason="known gap (README 'Moderators teach the bot'): all-MiniLM-L6-v2 puts many rewordings of a question "
    "further apart than different questions, and retrieval ranks the taught passage low for many; the calibrated "
    "line and evidence rule find 16 of the 40 rewordings",
)
def test_other_wordings_get_the_taught_passage_first(figures: LessonFigures):
    assert figures.taught_first / figures.asked >= 0.9, figures.misses


def test_the_lessons_data_asks_other_wordings_than_taught():
    items = [json.loads(line) for line in (PROJECT_ROOT / "tests" / "eval" / "lessons.jsonl").read_text().splitlines()]
    for item in items:
        assert len(item["asked"]) == 2 and item["taught"] not in item["asked"]
        assert not any(is_hit(wording, [item["phrase"]]) for wording in item["asked"])  # not the document's words


# --- the command line -----------------------------------------------------------------------------------------------


def _cli(tmp_path: Path, index_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_PATH": str(tmp_path / "bot.sqlite3"), "ARCHIVE_DIR": str(tmp_path / "archive")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "teach", *args, "--corpus", str(CORPUS), "--index", str(index_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )


def test_cli_teaches_lists_and_removes(tmp_path: Path, corpus_index_dir: Path):
    taught = _cli(tmp_path, corpus_index_dir, "when did jaice start at deis?", "--quote", DEIS)
    assert taught.returncode == 0, taught.stderr
    assert taught.stdout.startswith("Taught lesson #1: “when did jaice start at deis?” → jaice-singer")
    assert _cli(tmp_path, corpus_index_dir, "whats the weather in amsterdam", "--no-answer").returncode == 0
    listed = _cli(tmp_path, corpus_index_dir, "--list", "--json")
    lessons = json.loads(listed.stdout)
    assert [(item["id"], item["no_answer"], item["flagged"]) for item in lessons] == [
        (1, False, False),
        (2, True, False),
    ]
    assert DEIS in lessons[0]["passage"] and lessons[0]["taught_by"].startswith("cli:")
    asked = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "ask",
            "--json",
            "--index",
            str(corpus_index_dir),
            "When did Jaice start at Deis",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"DATABASE_PATH": str(tmp_path / "bot.sqlite3")},
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert DEIS in json.loads(asked.stdout)["results"][0]["quote"]
    removed = _cli(tmp_path, corpus_index_dir, "--remove", "1")
    assert removed.returncode == 0 and "Removed lesson #1" in removed.stdout
    assert "#1" not in _cli(tmp_path, corpus_index_dir, "--list").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("when did jaice start at deis?", "--quote", "Kubernetes"), "give a longer phrase"),
        (("when did jaice start at deis?", "--quote", "no document says this at all"), "No passage contains"),
        (("--remove", "5"), "no lesson #5"),
        (("--list", "--remove", "1"), "give one of"),
        (("--quote", "job at Deis"), "give the question"),
    ],
)
def test_cli_refuses_bad_input_with_one_error_line(tmp_path: Path, corpus_index_dir: Path, args, message):
    result = _cli(tmp_path, corpus_index_dir, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    if (tmp_path / "bot.sqlite3").exists():
        with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
            assert db.execute("SELECT COUNT(*) FROM lessons").fetchone()[0] == 0
