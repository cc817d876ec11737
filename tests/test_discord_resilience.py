"""The Discord bot under strain, end to end: a resumed gateway session, the heartbeat through a burst of questions,
the bot's cooldown, Discord's rate limits and 429s, and channels where the bot lacks permissions.

Each test starts a fresh emulator and bot; the answering service (model and index) is shared where a test only reads.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from bot.service import AnswerService
from tests.discord_helpers import EPHEMERAL, assert_clean, buttons, mention, reply_to, run, session

# --- the gateway -----------------------------------------------------------------------------------------------------


def test_reconnect_resumes_the_session_and_keeps_answering(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            user = emulator.add_user("tina")
            await emulator.reconnect()
            await emulator.post_message("general", user, mention(emulator, "how do I start contributing?"))
            await emulator.wait_until_resumed()
            assert (await emulator.wait_for_message())["embeds"]
            await emulator.drop_connection()
            await emulator.send_dm(user, "is kubernetes welcoming to newcomers?")
            await emulator.wait_until_resumed(count=2)
            assert (await emulator.wait_for_message())["embeds"]
            assert (emulator.identifies, emulator.resumes) == (1, 2)
            assert_clean(emulator)

    run(scenario)


def test_a_burst_of_questions_keeps_the_heartbeat_in_rhythm(service: AnswerService, tmp_path: Path):
    interval = 0.5

    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", heartbeat_interval=interval) as (emulator, _):
            users = [emulator.add_user(f"user{i}") for i in range(50)]
            await asyncio.sleep(interval * 2)
            start = len(emulator.heartbeats)
            questions = ["how do I start contributing?", "can I help without coding?", "what is a SIG?"]
            for i, user in enumerate(users):
                await emulator.post_message("general", user, mention(emulator, questions[i % 3]))
            for _ in users:
                await emulator.wait_for_message(timeout=60)
            # a quick burst may end within one beat: wait for two more beats so the gaps around it are seen
            settled = len(emulator.heartbeats) + 2
            for _ in range(100):
                if len(emulator.heartbeats) >= settled:
                    break
                await asyncio.sleep(interval / 5)
            beats = emulator.heartbeats[max(start - 1, 0) :]
            gaps = [b - a for a, b in itertools.pairwise(beats)]
            assert len(gaps) >= 2
            assert max(gaps) < 1.5 * interval, gaps
            assert_clean(emulator)

    run(scenario)


# --- rate limits -----------------------------------------------------------------------------------------------------


def test_cooldown_gives_a_private_notice(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", cooldown_questions=2, cooldown_seconds=60) as (
            emulator,
            _,
        ):
            quentin = emulator.add_user("quentin")
            for _ in range(2):
                await emulator.post_message("general", quentin, mention(emulator, "how do I start contributing?"))
                assert (await emulator.wait_for_message())["embeds"]
            await emulator.post_message("general", quentin, mention(emulator, "and how do I find a mentor?"))
            notice = await emulator.wait_for_message()
            assert "You're asking faster than I can keep up with" in notice["content"]
            assert notice["channel_id"] == str(emulator._dm_channels[int(quentin["id"])]), (
                "sent by DM, not in the channel"
            )
            interaction = await emulator.invoke("ask", quentin, options={"question": "how do I start?"})
            response = await interaction.wait_response()
            assert response["type"] == 4 and response["data"]["flags"] & EPHEMERAL
            assert "Please wait" in response["data"]["content"]
            assert_clean(emulator)

    run(scenario)


def test_quotes_and_feedback_presses_have_a_cooldown(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", cooldown_questions=1, cooldown_seconds=60) as (
            emulator,
            _,
        ):
            rita = emulator.add_user("rita")
            first = await emulator.invoke("quote", rita)
            assert (await first.wait_response())["type"] == 5
            assert (await first.wait_followup())["embeds"]
            second = await emulator.invoke("quote", rita)
            response = await second.wait_response()
            assert response["type"] == 4 and response["data"]["flags"] & EPHEMERAL
            assert "Please wait" in response["data"]["content"]

            asked = await emulator.post_message("general", rita, mention(emulator, "how do I start contributing?"))
            answer = await reply_to(emulator, asked)
            helpful = buttons(answer)["Helpful"]
            replies = []
            for _ in range(4):  # three presses a window are allowed (3 x COOLDOWN_QUESTIONS), the fourth is not
                press = await emulator.click(answer, helpful, rita)
                replies.append(await press.wait_response())
            assert [r["type"] for r in replies] == [5, 5, 5, 4]
            assert "Please wait" in replies[-1]["data"]["content"] and replies[-1]["data"]["flags"] & EPHEMERAL
            assert_clean(emulator)

    run(scenario)


def test_a_busy_channel_respects_discords_rate_limit(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", message_rate=(5, 2.0)) as (emulator, _):
            users = [emulator.add_user(f"asker{i}") for i in range(8)]
            started = asyncio.get_running_loop().time()
            asked = []
            for user in users:  # a few milliseconds apart, as people type, not all in the same instant
                asked.append(await emulator.post_message("general", user, mention(emulator, "how do I start?")))
                await asyncio.sleep(0.05)
            replies = [await reply_to(emulator, message) for message in asked]
            took = asyncio.get_running_loop().time() - started
            assert len(replies) == 8, "every question is answered"
            assert took >= 1.5, "the last three waited for the next window"
            # discord.py waits on the rate-limit headers (without them, each of the last three would get a 429); a
            # request landing a moment before the window turns over may still get one and is retried, as on Discord
            assert len(emulator.rate_limited) <= 1
            assert_clean(emulator)

    run(scenario)


def test_a_429_is_retried_and_the_answer_still_arrives(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            emulator.inject_429 = 1
            yara = emulator.add_user("yara")
            asked = await emulator.post_message("general", yara, mention(emulator, "how do I start?"))
            reply = await reply_to(emulator, asked)
            assert reply["embeds"] and len(emulator.rate_limited) == 1
            assert_clean(emulator)

    run(scenario)


# --- missing permissions ---------------------------------------------------------------------------------------------


def test_missing_channel_permissions_degrade_gracefully(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            xena = emulator.add_user("xena")
            emulator.deny_bot("help", 1 << 16)  # no Read Message History: replies fail, plain messages work
            await emulator.post_message("help", xena, mention(emulator, "how do I start contributing?"))
            plain = await emulator.wait_for_message()
            assert plain["channel_id"] == str(emulator.channels["help"]) and "message_reference" not in plain
            assert plain["embeds"]

            emulator.deny_bot("general", 1 << 11)  # no Send Messages at all: the asker gets the answer by DM
            await emulator.post_message("general", xena, mention(emulator, "how do I start contributing?"))
            dm = await emulator.wait_for_message()
            assert dm["channel_id"] == str(emulator._dm_channels[int(xena["id"])])
            assert "I can't post in #general" in dm["content"] and dm["embeds"]
            assert [r["code"] for r in emulator.rejected] == [50013, 50013, 50013]
            assert emulator.pings == []

    run(scenario)


def test_a_slow_answer_in_a_channel_the_bot_cannot_post_in_still_reaches_the_asker(
    service: AnswerService, tmp_path: Path
):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, client):
            client.typing_after = 0  # every answer counts as slow, so the bot tries to show it is typing
            emulator.deny_bot("general", 1 << 11)
            amy = emulator.add_user("amy")
            await emulator.post_message("general", amy, mention(emulator, "how do I start contributing?"))
            dm = await emulator.wait_for_message()
            assert "I can't post in #general" in dm["content"] and dm["embeds"]
            assert emulator.pings == []

    run(scenario)
