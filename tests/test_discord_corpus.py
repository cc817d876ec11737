"""/corpus end to end: moderators add, replace, remove and restore documents from Discord.

The real discord.py client talks to the loopback emulator over real sockets; uploads are real ATTACHMENT options whose
bytes the bot downloads from the emulator's CDN; the corpus, archive, SQLite audit log and index are real files.

It stays one file, though over 500 lines: its tests follow one path (a /corpus change from upload through preview and
confirmation to the corpus, archive, audit log and index, and its refusals, races and crashes) through the same
writable corpus and the same helpers below, which splitting it would only move to a module of their own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.corpus import MAX_UPLOAD_BYTES, CorpusManager
from bot.embedding import Embedder
from bot.index import load_index
from bot.service import AnswerService
from tests.discord_helpers import EPHEMERAL, assert_clean, buttons, edited_to, embed_text, reply_to, run, session
from tests.emulator import DiscordEmulator, Interaction, UserFile

WELCOME = (
    "---\ntitle: Welcome guide\n---\n\n## Meetings\n\nThe community meets every Thursday at 17:00 UTC. "
    "Everyone is welcome to join.\n\n## Reviews\n\nEvery change needs one review from an owner.\n"
)
FAQ = "FAQ\n\nThe mailing list is the best place to ask long questions.\n"
MENTORING = (
    "# Mentoring\n\n## Finding a mentor\n\nNew contributors can ask for a mentor in the #mentoring channel. "
    "A mentor pairs with you on your first pull request.\n\n## Office hours\n\n"
    "Mentors hold office hours every second Tuesday, where anyone can bring a question about their first change.\n"
)
MENTOR_QUOTE = "ask for a mentor in the #mentoring channel"
RELEASES = b"# Releases\n\nWe ship a release every month, and the release team announces the date two weeks ahead.\n"


@pytest.fixture
def corpus_service(tmp_path: Path, embedder: Embedder) -> AnswerService:
    """A live service over a writable two-document corpus."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(WELCOME, encoding="utf-8")
    (corpus / "faq.txt").write_text(FAQ, encoding="utf-8")
    service = AnswerService(corpus, tmp_path / "index", embedder)
    service.load(notify=lambda message: None)
    return service


def settings_for(tmp_path: Path) -> dict:
    return {"archive_dir": tmp_path / "archive", "cooldown_seconds": 0}


def manager(service: AnswerService, tmp_path: Path) -> CorpusManager:
    """Another CorpusManager over the same files, to read what the bot did (history, versions)."""
    return CorpusManager(
        service.corpus_dir, tmp_path / "bot.sqlite3", tmp_path / "archive", reindex=lambda: None, index_dir=None
    )


def corpus_state(service: AnswerService) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(service.corpus_dir.iterdir())}


def indexed_names(service: AnswerService) -> set[str]:
    return {source.name for source in service.sources()}


async def upload(emulator: DiscordEmulator, user: dict, file: UserFile) -> tuple[Interaction, dict]:
    """`/corpus add file:` and the private reply it gets (the preview, or a refusal)."""
    interaction = await emulator.invoke("corpus", user, subcommand="add", options={"file": file}, granted=True)
    response = await interaction.wait_response()
    assert (response.get("data") or {}).get("flags", 0) & EPHEMERAL, "private from the first response"
    if response["type"] == 4:
        return interaction, interaction.original
    return interaction, await interaction.wait_followup()


async def press(emulator: DiscordEmulator, message: dict, label: str, user: dict) -> Interaction:
    click = await emulator.click(message, buttons(message)[label], user)
    assert (await click.wait_response())["type"] == 7, "the preview itself is updated"
    return click


async def ask(emulator: DiscordEmulator, user: dict, question: str) -> str:
    asked = await emulator.send_dm(user, question)
    return embed_text(await reply_to(emulator, asked))


async def command(emulator: DiscordEmulator, user: dict, subcommand: str, **options: object) -> dict:
    """Any other /corpus subcommand: deferred privately, then one private followup."""
    interaction = await emulator.invoke("corpus", user, subcommand=subcommand, options=options, granted=True)
    response = await interaction.wait_response()
    assert response["data"]["flags"] & EPHEMERAL
    if response["type"] == 4:
        return interaction.original
    followup = await interaction.wait_followup(timeout=60)
    assert followup["flags"] & EPHEMERAL
    return followup


# --- add, replace, remove, restore ------------------------------------------------------------------------------------


def test_add_previews_then_confirm_writes_indexes_and_answers_quote_it(corpus_service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            moderator = emulator.add_user("mod", roles=["Moderators"])
            before = await ask(emulator, moderator, "How do I find a mentor?")
            assert MENTOR_QUOTE not in before

            _, preview = await upload(emulator, moderator, UserFile("mentoring.md", MENTORING.encode()))
            embed = preview["embeds"][0]
            assert embed["title"] == "Add mentoring.md?"
            assert embed["description"] == "**Mentoring**\n2 sections · 2 paragraphs · **4 passages** · 277 bytes"
            assert "Finding a mentor" in embed_text(preview) and "Office hours" in embed_text(preview)
            assert set(buttons(preview)) == {"Confirm", "Cancel"}
            assert "mentoring.md" not in corpus_state(corpus_service), "nothing is written before Confirm"
            assert [d["complete"] for d in emulator.downloads] == [True]

            click = await press(emulator, preview, "Confirm", moderator)
            result = await edited_to(click, "Added mentoring.md", timeout=60)
            assert "index updated" in result
            assert click.original["flags"] & EPHEMERAL and click.original["components"] == []

            assert corpus_state(corpus_service)["mentoring.md"] == MENTORING.encode()
            assert "mentoring.md" in indexed_names(corpus_service)
            assert MENTOR_QUOTE in await ask(emulator, moderator, "How do I find a mentor?")
            assert_clean(emulator)

    run(scenario)
    [entry] = manager(corpus_service, tmp_path).history()
    assert (entry.action, entry.name) == ("add", "mentoring.md")
    assert entry.actor.startswith("mod (")


def test_a_name_that_exists_asks_to_replace_and_restore_brings_the_old_text_back(
    corpus_service: AnswerService, tmp_path: Path
):
    new_faq = "FAQ\n\nLong questions belong on the discussion forum, which replaced the mailing list.\n"

    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            owner = emulator.owner
            _, preview = await upload(emulator, owner, UserFile("faq.txt", new_faq.encode()))
            assert preview["embeds"][0]["title"] == "Replace faq.txt?"
            assert "already exists" in preview["embeds"][0]["description"]
            assert set(buttons(preview)) == {"Replace", "Cancel"}

            click = await press(emulator, preview, "Replace", owner)
            await edited_to(click, "Replaced faq.txt", timeout=60)
            assert corpus_state(corpus_service)["faq.txt"] == new_faq.encode()
            assert "discussion forum" in await ask(emulator, owner, "Where do I ask long questions?")

            typing = await emulator.autocomplete(
                "corpus", owner, subcommand="restore", focused="version", options={"version": "faq"}
            )
            [choice] = await typing.wait_choices()
            assert choice["name"].startswith("faq.txt · ") and " · replaced · #" in choice["name"]
            restored = await command(emulator, owner, "restore", version=choice["value"])
            assert "Restored faq.txt" in restored["content"]
            assert corpus_state(corpus_service)["faq.txt"] == FAQ.encode()
            assert "mailing list is the best place" in await ask(emulator, owner, "Where do I ask long questions?")
            assert_clean(emulator)

    run(scenario)
    versions = manager(corpus_service, tmp_path).versions("faq.txt")
    assert [v.reason for v in versions] == ["replaced", "replaced"], "the replaced text is archived on restore too"


def test_remove_keeps_the_text_and_restore_brings_it_back(corpus_service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            owner = emulator.owner
            typing = await emulator.autocomplete(
                "corpus", owner, subcommand="remove", focused="name", options={"name": "fa"}
            )
            assert await typing.wait_choices() == [{"name": "faq.txt", "value": "faq.txt"}]
            everything = await emulator.autocomplete(
                "corpus", owner, subcommand="remove", focused="name", options={"name": ""}
            )
            assert {c["value"] for c in await everything.wait_choices()} == {"faq.txt", "welcome.md"}

            removed = await command(emulator, owner, "remove", name="faq.txt")
            assert "Removed faq.txt" in removed["content"] and "/corpus restore version:1" in removed["content"]
            assert "faq.txt" not in corpus_state(corpus_service)
            assert "faq.txt" not in indexed_names(corpus_service)
            assert "mailing list" not in await ask(emulator, owner, "Where do I ask long questions?")

            unknown = await command(emulator, owner, "remove", name="faq.txt")
            assert "There is no document named 'faq.txt'" in unknown["content"]
            typing = await emulator.autocomplete(
                "corpus", owner, subcommand="history", focused="name", options={"name": "faq"}
            )
            assert await typing.wait_choices() == [{"name": "faq.txt", "value": "faq.txt"}], "removed names too"

            typing = await emulator.autocomplete(
                "corpus", owner, subcommand="restore", focused="version", options={"version": ""}
            )
            [choice] = await typing.wait_choices()
            assert choice["value"] == 1 and choice["name"].startswith("faq.txt · ")
            assert choice["name"].endswith(" · removed · #1")
            restored = await command(emulator, owner, "restore", version=1)
            assert "Restored faq.txt" in restored["content"]
            assert corpus_state(corpus_service)["faq.txt"] == FAQ.encode()
            assert "faq.txt" in indexed_names(corpus_service)
            assert "mailing list is the best place" in await ask(emulator, owner, "Where do I ask long questions?")

            only_welcome = await command(emulator, owner, "history", name="welcome.md")
            assert embed_text(only_welcome).startswith("Changes to welcome.md\nNo changes recorded yet.")
            history = await command(emulator, owner, "history")
            lines = history["embeds"][0]["description"].splitlines()
            assert "**restore** `faq.txt`" in lines[0] and "**remove** `faq.txt`" in lines[1]
            assert "owner (" in lines[0] and "old text kept as version 1" in lines[1]
            assert_clean(emulator)

    run(scenario)
    assert [e.action for e in manager(corpus_service, tmp_path).history()] == ["restore", "remove"]


def test_list_and_show_describe_the_documents(corpus_service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            listing = await command(emulator, emulator.owner, "list")
            text = embed_text(listing)
            # welcome.md: a paragraph of two sentences (three windows: each, and both) and one of one sentence
            assert "**Welcome guide**\n`welcome.md` · 4 passages · 179 bytes · indexed 20" in text
            assert "**FAQ**\n`faq.txt` · 1 passage · 63 bytes · indexed 20" in text
            assert listing["embeds"][0]["footer"]["text"] == "2 documents, 5 passages"

            typing = await emulator.autocomplete(
                "corpus", emulator.owner, subcommand="show", focused="name", options={"name": "wel"}
            )
            assert [c["value"] for c in await typing.wait_choices()] == ["welcome.md"]
            shown = await command(emulator, emulator.owner, "show", name="welcome.md")
            text = embed_text(shown)
            assert shown["embeds"][0]["title"] == "Welcome guide"
            assert "• Meetings\n• Reviews" in text
            assert "> The community meets every Thursday at 17:00 UTC." in text

            missing = await command(emulator, emulator.owner, "show", name="nothing.md")
            assert "There is no document named 'nothing.md'" in missing["content"]

            history = await command(emulator, emulator.owner, "history")
            assert "No changes recorded yet." in embed_text(history)
            assert_clean(emulator)

    run(scenario)


def test_cancel_changes_nothing_and_only_the_uploader_sees_the_buttons(corpus_service: AnswerService, tmp_path: Path):
    before = corpus_state(corpus_service)
    index = corpus_service.snapshot.index.path

    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            moderator = emulator.add_user("mod", roles=["Moderators"])
            _, preview = await upload(emulator, moderator, UserFile("mentoring.md", MENTORING.encode()))
            with pytest.raises(PermissionError):  # a private preview: nobody else sees it, so nobody else can click
                await emulator.click(preview, buttons(preview)["Confirm"], emulator.owner)
            click = await press(emulator, preview, "Cancel", moderator)
            assert click.original["content"] == "Cancelled; nothing was changed."
            assert click.original["embeds"] == [] and click.original["components"] == []
            assert_clean(emulator)

    run(scenario)
    assert corpus_state(corpus_service) == before
    assert corpus_service.snapshot.index.path == index
    assert manager(corpus_service, tmp_path).history() == []


def test_an_unanswered_preview_expires_and_changes_nothing(
    corpus_service: AnswerService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from bot.discord_app import views

    monkeypatch.setattr(views, "CONFIRM_TIMEOUT", 0.5)
    before = corpus_state(corpus_service)

    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            _, preview = await upload(emulator, emulator.owner, UserFile("mentoring.md", MENTORING.encode()))
            async with asyncio.timeout(10):
                while "expired" not in emulator.get_message(preview["id"])["content"]:
                    await asyncio.sleep(0.05)
            now = emulator.get_message(preview["id"])
            assert now["content"] == "This preview expired; nothing was changed. Run /corpus add again."
            assert now["components"] == [] and now["embeds"] == []
            with pytest.raises(ValueError, match="no component"):
                await emulator.click(preview, buttons(preview)["Confirm"], emulator.owner)
            assert_clean(emulator)

    run(scenario)
    assert corpus_state(corpus_service) == before
    assert manager(corpus_service, tmp_path).history() == []


def test_html_is_stored_as_text_without_its_scripts(corpus_service: AnswerService, tmp_path: Path):
    page = (
        b"<html><head><title>Code of conduct</title><script>document.location = 'https://evil.example'</script>"
        b"</head><body><h1>Code of conduct</h1><p>Be kind to newcomers, and assume good intent in every review."
        b"</p><script>alert('pwned')</script><p onclick=\"steal()\">Report problems to the moderators in private."
        b"</p></body></html>"
    )

    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            _, preview = await upload(emulator, emulator.owner, UserFile("conduct.html", page))
            assert preview["embeds"][0]["title"] == "Add conduct.md?"
            assert "Stored as `conduct.md` (converted to Markdown text" in preview["embeds"][0]["description"]
            click = await press(emulator, preview, "Confirm", emulator.owner)
            await edited_to(click, "Added conduct.md", timeout=60)
            assert "Be kind to newcomers" in await ask(emulator, emulator.owner, "How should I treat newcomers?")
            assert_clean(emulator)

    run(scenario)
    stored = (corpus_service.corpus_dir / "conduct.md").read_text(encoding="utf-8")
    assert "Be kind to newcomers" in stored and "Report problems to the moderators in private." in stored
    assert "alert" not in stored and "evil.example" not in stored and "steal" not in stored
    assert not (corpus_service.corpus_dir / "conduct.html").exists()


# --- refusals -------------------------------------------------------------------------------------------------------

SCRIPTS = (
    b"<html><head><title>x</title><script>fetch('/steal?c=' + document.cookie)</script>"
    b"<style>body { display: none }</style></head><body><script>alert(1)</script>"
    b"<noscript><script>eval(atob('YWxlcnQoMSk='))</script></noscript><!-- a comment --></body></html>"
)
BAD_UPLOADS = [
    ("../../.env", b"DISCORD_TOKEN=stolen\n", "not a path", False),
    ("/etc/cron.d/evil.md", b"# Evil\n\nRuns as root.\n", "not a path", False),
    ("guide\x1b[2J.md", b"# Guide\n\nText.\n", "control characters", False),
    ("logo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary", True),
    ("big.md", b"# Big\n\n" + b"All work and no play. " * (50 * 1024 * 1024 // 22), "is 52,428,", False),
    ("empty.md", b"", "empty", True),
    ("page.html", SCRIPTS, "no readable text", True),
]


def test_bad_uploads_are_refused_clearly_and_change_nothing(corpus_service: AnswerService, tmp_path: Path):
    before = corpus_state(corpus_service)
    index = corpus_service.snapshot.index.path

    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            emulator.attachment_size_limit = 100 * 1024 * 1024  # a boosted server lets people upload 50 MB
            for filename, data, reason, downloaded in BAD_UPLOADS:
                served = len(emulator.downloads)
                _, reply = await upload(emulator, emulator.owner, UserFile(filename, data))
                assert reason in reply["content"], (filename, reply["content"])
                assert not reply.get("components") and not reply.get("embeds")
                assert len(emulator.downloads) == served + downloaded, filename
                if filename == "big.md":
                    assert len(data) > 50_000_000 and f"at most {MAX_UPLOAD_BYTES:,} bytes" in reply["content"]
            assert_clean(emulator)

    run(scenario)
    assert corpus_state(corpus_service) == before
    assert corpus_service.snapshot.index.path == index
    assert not (tmp_path / "archive").exists() or not any((tmp_path / "archive").rglob("*"))
    assert manager(corpus_service, tmp_path).history() == []
    assert not (tmp_path / ".env").exists() and not (tmp_path.parent / ".env").exists()


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
def test_a_file_bigger_than_discord_said_is_refused_after_limit_plus_one_bytes(
    corpus_service: AnswerService, tmp_path: Path, announced: bool
):
    before = corpus_state(corpus_service)

    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            emulator.cdn_content_length = announced
            small = UserFile("grows.md", b"# Grows\n\nA small file.\n")
            interaction = await emulator.invoke("corpus", emulator.owner, subcommand="add", options={"file": small})
            # the CDN serves far more than the attachment's metadata said (metadata is not to be trusted); this runs
            # before the bot can have fetched anything: it has not even acknowledged the interaction yet
            attachment_id = int(next(iter(interaction.payload["data"]["resolved"]["attachments"])))
            emulator.attachment_data[attachment_id] = b"# Grows\n\n" + b"x" * (50 * MAX_UPLOAD_BYTES)
            await interaction.wait_response()
            reply = await interaction.wait_followup()
            assert f"larger than {MAX_UPLOAD_BYTES:,} bytes" in reply["content"]
            async with asyncio.timeout(10):
                while "status" not in emulator.downloads[0]:
                    await asyncio.sleep(0.05)
            assert emulator.downloads[0]["complete"] is False, "the bot stopped reading"
            assert_clean(emulator)

    run(scenario)
    assert corpus_state(corpus_service) == before


def test_members_cannot_change_or_audit_the_corpus(corpus_service: AnswerService, tmp_path: Path):
    before = corpus_state(corpus_service)

    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            member = emulator.add_user("mallory")
            file = UserFile("mentoring.md", MENTORING.encode())
            with pytest.raises(PermissionError):  # Discord hides /corpus from members...
                await emulator.invoke("corpus", member, subcommand="add", options={"file": file})
            # ...unless an admin granted it; the bot still refuses, before downloading anything
            _, refused = await upload(emulator, member, file)
            assert "Only moderators can change the documents" in refused["content"]
            assert emulator.downloads == []
            for subcommand, options in (("remove", {"name": "faq.txt"}), ("restore", {"version": 1})):
                reply = await command(emulator, member, subcommand, **options)
                assert "Only moderators can change the documents" in reply["content"]
            reply = await command(emulator, member, "history")
            assert "Only moderators can see the history of changes" in reply["content"]
            typing = await emulator.autocomplete(
                "corpus", member, subcommand="restore", focused="version", options={"version": ""}, granted=True
            )
            # no archived version is offered; the one choice says why
            choices = await typing.wait_choices()
            assert [c["name"] for c in choices] == [
                "Only moderators can change the documents (Manage Server permission or a moderator role)."
            ]
            assert_clean(emulator)

    run(scenario)
    assert corpus_state(corpus_service) == before
    assert manager(corpus_service, tmp_path).history() == []


# --- two moderators at once -----------------------------------------------------------------------------------------


def test_two_moderators_confirming_at_once_one_adds_the_other_is_told_to_retry(
    corpus_service: AnswerService, tmp_path: Path
):
    entered = threading.Event()
    release = threading.Event()
    real_reindex = corpus_service.reindex

    def held_reindex(progress: Callable[[int, int], None] | None = None):
        entered.set()  # the first change holds the corpus lock while its reindex waits here
        release.wait(30)
        return real_reindex(progress=progress)

    async def scenario() -> None:
        async with session(corpus_service, tmp_path / "bot.sqlite3", **settings_for(tmp_path)) as (emulator, _):
            first, second = emulator.owner, emulator.add_user("mod", roles=["Moderators"])
            _, preview_a = await upload(emulator, first, UserFile("mentoring.md", MENTORING.encode()))
            _, preview_b = await upload(emulator, second, UserFile("releases.md", RELEASES))
            click_a = await press(emulator, preview_a, "Confirm", first)
            await asyncio.to_thread(entered.wait, 30)
            assert click_a.original["content"] == "Adding `mentoring.md`… updating the index."
            click_b = await press(emulator, preview_b, "Confirm", second)
            await edited_to(click_b, "Another corpus change is in progress; try again in a moment.")
            release.set()
            await edited_to(click_a, "Added mentoring.md", timeout=60)

            assert set(corpus_state(corpus_service)) == {"faq.txt", "welcome.md", "mentoring.md"}
            assert indexed_names(corpus_service) == {"faq.txt", "welcome.md", "mentoring.md"}

            _, again = await upload(emulator, second, UserFile("releases.md", RELEASES))
            retry = await press(emulator, again, "Confirm", second)
            await edited_to(retry, "Added releases.md", timeout=60)
            assert indexed_names(corpus_service) == {"faq.txt", "welcome.md", "mentoring.md", "releases.md"}
            assert_clean(emulator)

    corpus_service.reindex = held_reindex  # type: ignore[method-assign]
    try:
        run(scenario)
    finally:
        release.set()
        corpus_service.reindex = real_reindex  # type: ignore[method-assign]
    assert [e.name for e in manager(corpus_service, tmp_path).history()] == ["releases.md", "mentoring.md"]


# --- killed in the middle: `python -m bot run` as its own process -----------------------------------------------------


def test_a_bot_killed_in_the_middle_of_adds_recovers_on_restart(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(WELCOME, encoding="utf-8")
    (corpus / "faq.txt").write_text(FAQ, encoding="utf-8")
    database, archive, index_dir = tmp_path / "bot.sqlite3", tmp_path / "archive", tmp_path / "index"
    new_faq = b"FAQ\n\nLong questions belong on the discussion forum, which replaced the mailing list.\n"

    logs: list[Path] = []

    async def start_bot(emulator: DiscordEmulator, crash_at: str | None) -> asyncio.subprocess.Process:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "AUTO_", "MODERATOR_"))}
        env.pop("ONBOARDING_CRASH_AT", None)
        env.update(emulator.bot_env())
        env.update(
            DISCORD_GUILD_ID=str(emulator.guild_id),
            DATABASE_PATH=str(database),
            ARCHIVE_DIR=str(archive),
            CORPUS_DIR=str(corpus),
            INDEX_DIR=str(index_dir),
            COOLDOWN_SECONDS="0",
            LOG_LEVEL="INFO",
        )
        if crash_at:  # the core's fault injection: the process SIGKILLs itself right after that step of a change
            env["ONBOARDING_CRASH_AT"] = crash_at
        identified = emulator.identifies
        logs.append(tmp_path / f"bot-{len(logs)}.log")
        with logs[-1].open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=env,
                cwd=PROJECT_ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
            )
        async with asyncio.timeout(120):
            while emulator.identifies == identified or not emulator.commands.get(emulator.guild_id):
                assert process.returncode is None, logs[-1].read_text()
                await asyncio.sleep(0.05)
        return process

    async def add_and_confirm(emulator: DiscordEmulator, file: UserFile, label: str) -> None:
        _, preview = await upload(emulator, emulator.owner, file)
        await emulator.click(preview, buttons(preview)[label], emulator.owner)

    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            # 1. killed after the change was journaled, before the file changed: rolled back on restart
            process = await start_bot(emulator, crash_at="journaled")
            await add_and_confirm(emulator, UserFile("mentoring.md", MENTORING.encode()), "Confirm")
            assert await asyncio.wait_for(process.wait(), 60) == -signal.SIGKILL
            assert not (corpus / "mentoring.md").exists()
            # 2. restarted; killed after the new text of a replaced document was written, before it was recorded
            process = await start_bot(emulator, crash_at="written")
            await add_and_confirm(emulator, UserFile("faq.txt", new_faq), "Replace")
            assert await asyncio.wait_for(process.wait(), 60) == -signal.SIGKILL
            assert "Rolled back the interrupted add of mentoring.md" in logs[1].read_text()
            assert (corpus / "faq.txt").read_bytes() == new_faq, "killed after the write"
            # 3. restarted normally: the replacement is completed and recorded, the index matches the corpus
            process = await start_bot(emulator, crash_at=None)
            try:
                assert "discussion forum" in await ask(emulator, emulator.owner, "Where do I ask long questions?")
                assert MENTOR_QUOTE not in await ask(emulator, emulator.owner, "How do I find a mentor?")
            finally:
                process.terminate()
                await asyncio.wait_for(process.wait(), 30)
            log = logs[2].read_text()
            assert process.returncode == 0, log
            assert "Completed the interrupted replace of faq.txt." in log
            assert "Traceback" not in log
            assert_clean(emulator)

    run_long(scenario)

    assert sorted(p.name for p in corpus.iterdir()) == ["faq.txt", "welcome.md"]
    history = CorpusManager(corpus, database, archive, reindex=lambda: None).history()
    assert [(e.action, e.name, e.version) for e in history] == [("replace", "faq.txt", 1)]
    [version] = CorpusManager(corpus, database, archive, reindex=lambda: None).versions("faq.txt")
    assert version.reason == "replaced"
    index = load_index(index_dir)
    texts = " ".join(p.text for p in index.paragraphs)
    assert "discussion forum" in texts and "mailing list is the best place" not in texts
    assert "mentoring" not in {d["name"].split(".")[0] for d in index.documents}


def run_long(scenario: Callable[[], object]) -> None:
    """Three bot start-ups (each loads the model) need more than run()'s two minutes on a busy machine."""
    asyncio.run(asyncio.wait_for(scenario(), timeout=400))  # type: ignore[arg-type]
