"""Moderators teach the bot from Discord, end to end against the loopback emulator: Fix this answer on an answer,
a question picked under /stats, /teach list, /teach remove, and members refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.service import AnswerService
from tests.discord_helpers import EPHEMERAL, assert_clean, buttons, embed_text, mention, reply_to, run, session
from tests.emulator import DiscordEmulator, Interaction

DEIS = "interviewed for an engineering job at Deis"
CHOSEN = "chosen by the moderators"


def select_of(message: dict) -> dict:
    return next(c for row in message.get("components", []) for c in row["components"] if c["type"] == 3)


def button(message: dict, label: str) -> str:
    return next(c["custom_id"] for row in message["components"] for c in row["components"] if c.get("label") == label)


async def ask(emulator: DiscordEmulator, user: dict, question: str) -> dict:
    asked = await emulator.post_message("general", user, mention(emulator, question))
    return await reply_to(emulator, asked)


async def teach_command(emulator: DiscordEmulator, user: dict, subcommand: str, **options: object) -> Interaction:
    return await emulator.invoke("teach", user, subcommand=subcommand, options=options, granted=True)


async def private_followup(interaction: Interaction) -> dict:
    response = await interaction.wait_response()
    assert response["type"] == 5 and response["data"]["flags"] & EPHEMERAL
    return await interaction.wait_followup()


def test_fix_this_answer_teaches_a_candidate_for_every_close_wording(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            member = emulator.add_user("newcomer")
            moderator = emulator.add_user("mod", roles=["Moderators"])
            answer = await ask(emulator, member, "when did jaice start at deis?")
            assert DEIS not in embed_text(answer).split("Also relevant")[0]  # wrong first

            # a member cannot, even when an admin granted them the command
            refused = await emulator.invoke("Fix this answer", member, target=answer, granted=True)
            response = await refused.wait_response()
            assert "Only moderators can teach me" in response["data"]["content"]

            fix = await emulator.invoke("Fix this answer", moderator, target=answer, granted=True)
            panel = await private_followup(fix)
            assert "Teach: when did jaice start at deis?" in embed_text(panel)
            select = select_of(panel)
            option = next(o for o in select["options"] if "interviewed for an engineering job" in o["label"])
            picked = await emulator.click(panel, select["custom_id"], moderator, values=[option["value"]])
            done = await picked.wait_response()
            assert done["type"] == 7 and "Taught lesson #1" in done["data"]["content"], done

            again = await ask(emulator, member, "When did Jaice start at Deis")
            text = embed_text(again)
            assert DEIS in text.split("Also relevant")[0] and CHOSEN in text

            listed = await private_followup(await teach_command(emulator, moderator, "list"))
            assert "#1" in embed_text(listed) and "when did jaice start at deis?" in embed_text(listed)
            assert "Flagged" not in embed_text(listed)

            removed = await private_followup(await teach_command(emulator, moderator, "remove", id=1))
            assert "Removed lesson #1" in removed["content"]
            assert CHOSEN not in embed_text(await ask(emulator, member, "When did Jaice start at Deis"))
            history = await private_followup(await teach_command(emulator, moderator, "history"))
            assert "**remove** #1" in embed_text(history) and "**teach** #1" in embed_text(history)
            assert_clean(emulator)

    run(scenario)


def test_a_question_under_stats_is_taught_as_not_answered(service: AnswerService, tmp_path: Path):
    database = tmp_path / "bot.sqlite3"
    gap = "can I bring my dog to the kubecon venue?"

    async def scenario() -> None:
        async with session(service, database) as (emulator, _):
            member = emulator.add_user("newcomer")
            moderator = emulator.add_user("mod", roles=["Moderators"])
            reader = emulator.add_user("reader")
            declined = await ask(emulator, member, gap)
            assert buttons(declined) == {}
            answered = await ask(emulator, member, "how did jaice hear about kubernetes?")
            vote = await emulator.click(answered, buttons(answered)["Not helpful"], reader)
            await vote.wait_followup()

            stats = await emulator.invoke("stats", moderator, granted=True)
            summary = await private_followup(stats)
            select = select_of(summary)
            option = next(o for o in select["options"] if o["label"] == gap)
            picked = await emulator.click(summary, select["custom_id"], moderator, values=[option["value"]])
            panel = await private_followup(picked)
            assert f"Teach: {gap}" in embed_text(panel)
            no_answer = await emulator.click(panel, button(panel, "No answer in the documents"), moderator)
            done = await no_answer.wait_response()
            assert done["type"] == 7 and "→ no answer" in done["data"]["content"]

            again = await ask(emulator, member, "Can I bring my dog to the KubeCon venue")
            assert "The moderators have noted" in embed_text(again)
            assert_clean(emulator)

    run(scenario)
    with sqlite3.connect(database) as db:
        votes = db.execute("SELECT document, helpful FROM passage_votes").fetchall()
    assert votes == [("jaice-singer-dumars-interview.md", 0)]


def test_teach_commands_are_refused_to_members_and_bad_phrases_change_nothing(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            member = emulator.add_user("mallory")
            moderator = emulator.add_user("mod", roles=["Moderators"])
            for subcommand, options in (
                ("list", {}),
                ("remove", {"id": 1}),
                ("add", {"question": "how do I start?", "phrase": "A colleague eventually told me"}),
                ("none", {"question": "how do I start?"}),
            ):
                refused = await teach_command(emulator, member, subcommand, **options)
                response = await refused.wait_response()
                assert response["data"]["flags"] & EPHEMERAL and "Only moderators" in response["data"]["content"]

            ambiguous = await teach_command(emulator, moderator, "add", question="how do I start?", phrase="Kubernetes")
            assert "give a longer phrase. Nothing was changed." in (await private_followup(ambiguous))["content"]
            added = await teach_command(
                emulator, moderator, "add", question="how did jaice hear about k8s?", phrase="A colleague eventually"
            )
            assert "Taught lesson #1" in (await private_followup(added))["content"]
            missing = await teach_command(emulator, moderator, "remove", id=9)
            assert "no lesson #9" in (await private_followup(missing))["content"]
            assert_clean(emulator)

    run(scenario)
