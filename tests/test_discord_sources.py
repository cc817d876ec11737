"""Git sources in Discord, end to end over the loopback emulator with the real git and model: /reindex syncs them
first and says so, answers link to the section the quote came from, /sources shows each source's commit and last
sync, a source that cannot be synced is reported privately, and SOURCES_REFRESH_MINUTES syncs on a schedule."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.embedding import Embedder
from bot.service import AnswerService
from bot.sources import SourcesSetup
from tests.discord_helpers import EPHEMERAL, assert_clean, edited_to, reply_to, run, session
from tests.test_sources import DOCS, Remote, community, git

SQUASH = "https://github.com/kubernetes/community/blob/master/guide/squash.md#squash-commits"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "git", dict(DOCS))


def service_for(tmp_path: Path, embedder: Embedder, remote: Remote, **changes: object) -> AnswerService:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "faq.md").write_text(
        "---\ntitle: Uploaded FAQ\n---\n\n## Mentoring\n\nThe mentoring programme pairs every newcomer with an "
        "experienced contributor for their first three months.\n"
    )
    setup = SourcesSetup((community(remote, **changes),), tmp_path / "data" / "sources")
    service = AnswerService(corpus, tmp_path / "index", embedder, sources=setup)
    service.load(notify=lambda message: None)
    return service


def test_reindex_syncs_the_sources_and_answers_link_to_the_section(tmp_path: Path, embedder: Embedder, remote: Remote):
    service = service_for(tmp_path, embedder, remote)
    assert [d["name"] for d in service.snapshot.index.documents] == ["faq.md"]  # not synced yet
    head = git("rev-parse", "HEAD", cwd=remote.work)

    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            interaction = await emulator.invoke("reindex", emulator.owner)
            first = await interaction.wait_response()
            assert first["data"]["content"] == "Reindexing… syncing the git sources, then reading the documents."
            content = await edited_to(interaction, "Reindexed in")
            assert f"Synced source `community` at commit `{head[:12]}`: 4 added, 0 changed, 0 removed." in content
            asked = await emulator.send_dm(emulator.owner, "how do I squash my commits?")
            embed = (await reply_to(emulator, asked))["embeds"][0]
            assert embed["url"] == SQUASH  # the title links to the page at the quote's section
            assert f"]({SQUASH})" in embed["description"]
            listed = await emulator.invoke("sources", emulator.owner)
            response = await listed.wait_response()
            (field,) = [f for f in response["data"]["embeds"][0]["fields"] if f["name"] == "Git sources"]
            assert field["value"].startswith(f"`community` · commit `{head[:12]}` · synced 2")
            assert field["value"].endswith(" · 4 documents")
            assert_clean(emulator)

    run(scenario)


def test_a_source_that_cannot_be_synced_is_reported_privately_and_keeps_serving(
    tmp_path: Path, embedder: Embedder, remote: Remote
):
    service = service_for(tmp_path, embedder, remote)
    service.reindex()
    head = git("rev-parse", "HEAD", cwd=remote.work)
    service.sources_setup = SourcesSetup((community(remote, branch="gone"),), tmp_path / "data" / "sources")

    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            interaction = await emulator.invoke("reindex", emulator.owner)
            await interaction.wait_response()
            private = await interaction.wait_followup(timeout=60)
            assert private["flags"] & EPHEMERAL
            assert private["content"] == (
                f"Source community could not be fetched from {remote.url}: the remote has no such branch. "
                f"It keeps serving commit {head[:12]}."
            )
            content = await edited_to(interaction, "Reindexed in")
            assert "Source `community` could not be synced; it keeps commit" in content
            asked = await emulator.send_dm(emulator.owner, "how do I squash my commits?")
            assert (await reply_to(emulator, asked))["embeds"][0]["url"] == SQUASH
            assert_clean(emulator)

    run(scenario)


def test_sources_refresh_on_a_schedule_through_the_same_path(tmp_path: Path, embedder: Embedder, remote: Remote):
    service = service_for(tmp_path, embedder, remote)
    service.reindex()
    edited = DOCS["guide/meetings.md"].replace("every Thursday at 5pm", "every other Tuesday at 4pm")
    head = remote.commit(write={"guide/meetings.md": edited})

    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", sources_refresh_minutes=0.01) as (emulator, _):
            deadline = time.monotonic() + 60
            while service.repositories()[0].commit != head:
                assert time.monotonic() < deadline, "the schedule never synced"
                await asyncio.sleep(0.2)
            asked = await emulator.send_dm(emulator.owner, "when does the community meet?")
            reply = (await reply_to(emulator, asked))["embeds"][0]
            assert "Tuesday" in reply["description"]
            assert reply["url"].endswith("guide/meetings.md#when-does-the-community-meet")

    run(scenario)
