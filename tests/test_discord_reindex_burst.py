"""/reindex under a burst of questions (issue 21): the build and the answering workers tokenize new words at the same
time, each thread with its own stemmer; every question is answered, the reindex completes and nothing is logged as
an error. A real discord.py client against the loopback emulator, the real model and a real build."""

from __future__ import annotations

import asyncio
import logging
import random
import string
import sys
from pathlib import Path

import pytest

from bot.embedding import Embedder
from bot.service import AnswerService
from tests.discord_helpers import assert_clean, edited_to, embed_text, mention, reply_to, run, session

SUFFIXES = ["ization", "fulness", "ational", "iveness", "ousness", "ement", "ingly", "ities", "alism", "ences"]


def new_words(rng: random.Random, count: int) -> str:
    """Made-up words nobody tokenized before, so the stemmer itself (not its cache) works on each."""
    return " ".join(
        "zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 12))) + rng.choice(SUFFIXES)
        for _ in range(count)
    )


@pytest.fixture
def burst_service(tmp_path: Path, embedder: Embedder) -> AnswerService:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mentoring.md").write_text(
        "# Mentoring\n\nNew contributors can ask for a mentor in the #mentoring channel. "
        "A mentor pairs with you on your first pull request.\n",
        encoding="utf-8",
    )
    svc = AnswerService(corpus, tmp_path / "index", embedder)
    svc.load(notify=lambda message: None)
    return svc


def test_reindex_during_a_burst_of_questions_answers_them_all_and_logs_no_error(
    burst_service: AnswerService, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    rng = random.Random(2121)
    # a new document of made-up words: the build stems thousands of words no one has tokenized yet
    paragraphs = [f"The glossary entry {i} says that {new_words(rng, 40)}." for i in range(150)]
    (burst_service.corpus_dir / "glossary.md").write_text(
        "# Glossary\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8"
    )
    caplog.set_level(logging.WARNING)

    async def scenario() -> None:
        async with session(burst_service, tmp_path / "bot.sqlite3") as (emulator, _):
            moderator = emulator.add_user("mod", roles=["Moderators"])
            reindex = await emulator.invoke("reindex", moderator, granted=True)
            assert (await reindex.wait_response())["type"] == 4
            asked: list[dict] = []
            waves = 0
            while burst_service.reindexing or waves == 0:  # questions keep coming while the build runs
                for n in range(8):
                    user = emulator.add_user(f"newcomer{waves}-{n}")
                    question = f"How do I find a mentor for {new_words(rng, 30)}?"
                    asked.append(await emulator.post_message("general", user, mention(emulator, question)))
                waves += 1
                await asyncio.sleep(0.2)
                if waves >= 40:
                    break
            replies = [await reply_to(emulator, message, timeout=60) for message in asked]
            content = await edited_to(reindex, "Reindexed in", timeout=90)
            assert "2 documents" in content and "Added: `glossary.md`" in content
            assert waves >= 2, "the questions overlapped the build"
            for reply in replies:
                assert reply["embeds"], reply
                assert "went wrong" not in embed_text(reply) + (reply.get("content") or "")
            assert_clean(emulator)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that the build and the workers interleave in the stemmer
    try:
        run(scenario)
    finally:
        sys.setswitchinterval(switch)
    problems = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []
    assert "glossary.md" in {d["name"] for d in burst_service.snapshot.index.documents}
