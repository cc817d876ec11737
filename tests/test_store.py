import sqlite3
from pathlib import Path

import pytest

from bot.store import Gap, Store, StoreError, normalize_question


def test_database_is_created_on_first_use_and_survives_a_restart(tmp_path: Path):
    path = tmp_path / "nested" / "bot.sqlite3"
    store = Store(path)
    qid = store.record_question("How do I start?", answered=True, confidence=0.8, via="slash", user_id=1)
    store.record_question("What is the meaning of life?", answered=False, confidence=0.3, via="dm", user_id=2)
    assert path.is_file()

    reopened = Store(path)
    stats = reopened.stats()
    assert (stats.asked, stats.answered, stats.declined) == (2, 1, 1)
    assert reopened.question_text(qid) == "How do I start?"
    # a real SQLite file another tool can read
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM questions").fetchone() == (2,)


def test_gaps_group_rewordings_and_rank_by_frequency(tmp_path: Path):
    store = Store(tmp_path / "bot.sqlite3")
    for text in ("How do I get a CLA signed?", "how do i get a cla signed", "What's the release cadence?"):
        store.record_question(text, answered=False, confidence=0.2, via="mention")
    store.record_question("How do I start?", answered=True, confidence=0.9, via="mention")
    gaps = store.stats().gaps
    assert [(g.question, g.count) for g in gaps] == [
        ("how do i get a cla signed", 2),
        ("What's the release cadence?", 1),
    ]


def test_feedback_is_one_vote_per_person_and_can_change(tmp_path: Path):
    store = Store(tmp_path / "bot.sqlite3")
    qid = store.record_question("How do I start?", answered=True, confidence=0.9, via="slash")
    assert store.record_feedback(qid, user_id=10, helpful=True)
    assert store.record_feedback(qid, user_id=10, helpful=True)
    assert store.record_feedback(qid, user_id=11, helpful=False)
    stats = store.stats()
    assert (stats.helpful, stats.not_helpful, stats.helpful_rate) == (1, 1, 0.5)
    assert store.record_feedback(qid, user_id=11, helpful=True)
    assert store.stats().helpful_rate == 1.0
    assert not store.record_feedback(9999, user_id=10, helpful=True)


def test_answers_voted_unhelpful_are_listed(tmp_path: Path):
    store = Store(tmp_path / "bot.sqlite3")
    qid = store.record_question("Where are the meeting notes?", answered=True, confidence=0.7, via="slash")
    store.record_feedback(qid, 1, helpful=False)
    store.record_feedback(qid, 2, helpful=False)
    assert [g.question for g in store.stats().unhelpful] == ["Where are the meeting notes?"]


def test_stats_can_be_scoped_to_one_server(tmp_path: Path):
    store = Store(tmp_path / "bot.sqlite3")
    store.record_question("a?", answered=True, confidence=1, via="mention", guild_id=1)
    store.record_question("b?", answered=False, confidence=0, via="mention", guild_id=2)
    assert store.stats(guild_id=1).asked == 1
    assert store.stats(guild_id=2).gaps[0].question == "b?"
    assert store.stats().asked == 2


def test_meta_values_persist(tmp_path: Path):
    store = Store(tmp_path / "bot.sqlite3")
    assert store.get_meta("commands") is None
    store.set_meta("commands", "abc")
    store.set_meta("commands", "def")
    assert Store(tmp_path / "bot.sqlite3").get_meta("commands") == "def"


def test_an_unusable_database_path_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(blocker / "bot.sqlite3")


def test_normalize_question():
    assert normalize_question("  How do I   START?! ") == "how do i start"


def test_gap_wording_comes_from_the_same_server(tmp_path: Path):
    store = Store(tmp_path / "bot.sqlite3")
    store.record_question("How do I join SIG Docs?", answered=False, confidence=0, via="mention", guild_id=1)
    store.record_question("how do i join sig docs", answered=False, confidence=0, via="mention", guild_id=2)
    assert store.stats(guild_id=1).gaps[0].question == "How do I join SIG Docs?"
    assert store.stats().gaps[0] == Gap("how do i join sig docs", 2)
