"""Tests of the Discord emulator, driving the real discord.py client against it.

One list of end-to-end scenarios over one harness (`run`, `make_client`), a little over the project's ~500 lines;
kept whole rather than split into files that would each import that harness.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands

from tests.emulator import DiscordEmulator, UserFile, point_discord_py_at, running_client

Scenario = Callable[[DiscordEmulator], Awaitable[None]]


def run(scenario: Scenario, *, ack_deadline: float = 3.0) -> None:
    """Run one scenario against a fresh emulator, always closing it."""

    async def main() -> None:
        emulator = DiscordEmulator(heartbeat_interval=1.0, ack_deadline=ack_deadline)
        await emulator.start()
        try:
            await asyncio.wait_for(scenario(emulator), 10)
        finally:
            await emulator.close()

    asyncio.run(main())


def make_client(*, message_content: bool = False) -> discord.Client:
    intents = discord.Intents.default()
    intents.message_content = message_content
    return discord.Client(intents=intents, guild_ready_timeout=0.05)


def test_login_and_ready() -> None:
    original_base = discord.http.Route.BASE
    original_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY

    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()
        async with running_client(emulator, client):
            await emulator.wait_until_ready()
            assert emulator.rest_base == discord.http.Route.BASE
            assert client.user is not None
            assert client.user.id == emulator.bot_id
            assert client.application_id == emulator.application_id
            guild = client.get_guild(emulator.guild_id)
            assert guild is not None
            assert {c.name for c in guild.channels} == {"general", "help", "questions"}
            assert isinstance(guild.get_channel(emulator.channels["questions"]), discord.ForumChannel)
            assert guild.get_role(emulator.roles["Admin"]).permissions.manage_guild
            assert guild.me is not None
            assert emulator.identifies == 1
            assert emulator.intents == discord.Intents.default().value
            assert emulator.heartbeats  # discord.py beats right after HELLO
            assert emulator.rejected == []

    run(scenario)
    assert original_base == discord.http.Route.BASE
    assert original_gateway == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def test_bad_token_is_rejected() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()
        try:
            with point_discord_py_at(emulator), pytest.raises(discord.LoginFailure):
                await client.login("not-the-token")
        finally:
            await client.close()
        assert emulator.rejected[-1]["status"] == 401

    run(scenario)


def test_mention_gets_a_reply_and_other_content_is_blanked_without_the_intent() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client(message_content=False)
        seen: asyncio.Queue[discord.Message] = asyncio.Queue()

        @client.event
        async def on_message(message: discord.Message) -> None:
            if message.author == client.user:
                return
            await seen.put(message)
            if client.user in message.mentions:
                await message.reply(f"you said: {message.content}")

        async with running_client(emulator, client):
            alice = emulator.add_user("alice")
            sent = await emulator.post_message("general", alice, f"<@{emulator.bot_id}> where are the docs?")
            reply = await emulator.wait_for_message()
            assert reply["content"] == f"you said: <@{emulator.bot_id}> where are the docs?"
            assert reply["channel_id"] == str(emulator.channels["general"])
            assert reply["message_reference"]["message_id"] == sent["id"]
            received = await seen.get()
            assert received.author.id == int(alice["id"])

            await emulator.post_message("help", alice, "nobody mentioned the bot here")
            unmentioned = await asyncio.wait_for(seen.get(), 5)
            assert unmentioned.content == ""
            assert emulator.get_message(unmentioned.id)["content"] == "nobody mentioned the bot here"
            assert len(emulator.messages) == 1

    run(scenario)


def test_dm_round_trip() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()

        @client.event
        async def on_message(message: discord.Message) -> None:
            if message.guild is None and message.author != client.user:
                await message.author.send(f"DM received: {message.content}")

        async with running_client(emulator, client):
            bob = emulator.add_user("bob")
            dm = await emulator.send_dm(bob, "hello in private")
            reply = await emulator.wait_for_message()
            assert reply["content"] == "DM received: hello in private"
            assert reply["channel_id"] == dm["channel_id"]
            assert "guild_id" not in reply

    run(scenario)


def test_forum_post_reaches_the_bot() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client(message_content=True)

        @client.event
        async def on_message(message: discord.Message) -> None:
            if isinstance(message.channel, discord.Thread) and message.author != client.user:
                await message.channel.send(f"answering {message.channel.name!r} in {message.channel.parent.name}")

        async with running_client(emulator, client):
            carol = emulator.add_user("carol")
            starter = await emulator.create_forum_post("questions", carol, "How do I start?", "Where is the guide?")
            answer = await emulator.wait_for_message()
            assert answer["channel_id"] == starter["channel_id"] == str(emulator.threads["How do I start?"])
            assert answer["content"] == "answering 'How do I start?' in questions"

    run(scenario)


def _tree_with_commands(client: discord.Client) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(client)

    @tree.command(description="Ask the documentation a question")
    @app_commands.describe(question="What you want to know")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"Answer to {question!r}")

    @tree.command(description="Only you can see the answer")
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("psst", ephemeral=True)

    return tree


def test_slash_commands_defer_followup_and_ephemeral() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()
        tree = _tree_with_commands(client)
        async with running_client(emulator, client):
            await tree.sync()
            assert emulator.command_puts == 1
            assert {c["name"] for c in emulator.commands["global"]} == {"ask", "secret"}
            dave = emulator.add_user("dave", roles=["Moderators"])

            asked = await emulator.invoke("ask", dave, options={"question": "how to install"})
            assert (await asked.wait_response())["type"] == 5
            followup = await asked.wait_followup()
            assert followup["content"] == "Answer to 'how to install'"
            assert asked.deferred
            assert await emulator.wait_for_message() == followup  # the "thinking" placeholder is not a message

            hidden = await emulator.invoke("secret", dave)
            response = await hidden.wait_response()
            assert response["type"] == 4
            assert hidden.original["content"] == "psst"
            assert hidden.original["flags"] & 64
            assert hidden.ephemeral
            assert emulator.rejected == []

    run(scenario)


def test_button_click_updates_the_message() -> None:
    class Confirm(discord.ui.View):
        @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.success)
        async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.edit_message(content=f"confirmed by {interaction.user.name}", view=None)

    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()

        @client.event
        async def on_message(message: discord.Message) -> None:
            if client.user in message.mentions and message.author != client.user:
                await message.channel.send("Are you sure?", view=Confirm())

        async with running_client(emulator, client):
            erin = emulator.add_user("erin")
            await emulator.post_message("general", erin, f"<@{emulator.bot_id}> delete it")
            prompt = await emulator.wait_for_message()
            assert prompt["components"][0]["components"][0]["custom_id"] == "confirm"
            clicked = await emulator.click(prompt, "confirm", erin)
            assert (await clicked.wait_response())["type"] == 7
            assert emulator.edits[-1]["content"] == "confirmed by erin"
            assert emulator.get_message(prompt["id"])["components"] == []
            with pytest.raises(ValueError, match="no component"):
                await emulator.click(prompt, "confirm", erin)

    run(scenario)


def test_overlong_message_is_rejected() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()
        errors: asyncio.Queue[discord.HTTPException] = asyncio.Queue()

        @client.event
        async def on_message(message: discord.Message) -> None:
            if client.user in message.mentions and message.author != client.user:
                try:
                    await message.channel.send("x" * 2001)
                except discord.HTTPException as exc:
                    await errors.put(exc)

        async with running_client(emulator, client):
            frank = emulator.add_user("frank")
            await emulator.post_message("general", frank, f"<@{emulator.bot_id}> write an essay")
            error = await asyncio.wait_for(errors.get(), 5)
            assert error.code == 50035
            assert "content" in error.text
            rejection = emulator.rejected[-1]
            assert (rejection["status"], rejection["code"]) == (400, 50035)
            assert rejection["path"] == f"/channels/{emulator.channels['general']}/messages"
            assert emulator.messages == []

    run(scenario)


def test_late_callback_gets_unknown_interaction_and_second_callback_is_refused() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()
        tree = app_commands.CommandTree(client)
        failures: asyncio.Queue[discord.HTTPException] = asyncio.Queue()

        @tree.command(description="Thinks too long before answering")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.4)
            try:
                await interaction.response.send_message("finally")
            except discord.HTTPException as exc:
                await failures.put(exc)

        @tree.command(description="Answers at once")
        async def quick(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("done")

        async with running_client(emulator, client):
            await tree.sync()
            gina = emulator.add_user("gina")
            await emulator.invoke("slow", gina)
            error = await asyncio.wait_for(failures.get(), 5)
            assert isinstance(error, discord.NotFound)
            assert error.code == 10062
            assert (await emulator.wait_for_rejection())["code"] == 10062

            emulator.ack_deadline = 3.0  # keep the on-time case robust on a slow machine
            quick_one = await emulator.invoke("quick", gina)
            await quick_one.wait_response()
            url = f"{emulator.rest_base}/interactions/{quick_one.id}/{quick_one.token}/callback"
            async with aiohttp.ClientSession() as session, session.post(url, json={"type": 4, "data": {}}) as resp:
                assert resp.status == 400
                assert (await resp.json())["code"] == 40060

    run(scenario, ack_deadline=0.2)


def test_everyone_ping_is_recorded_unless_allowed_mentions_forbid_it() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client(message_content=True)

        @client.event
        async def on_message(message: discord.Message) -> None:
            if message.author == client.user:
                return
            if message.content == "loud":
                await message.reply("@everyone look at this")
            elif message.content == "quiet":
                await message.reply("@everyone look at this", allowed_mentions=discord.AllowedMentions.none())

        async with running_client(emulator, client):
            hank = emulator.add_user("hank")
            await emulator.post_message("general", hank, "loud")
            loud = await emulator.wait_for_message()
            assert loud["allowed_mentions"] is None
            assert emulator.pings == [
                {
                    "message_id": loud["id"],
                    "channel_id": loud["channel_id"],
                    "users": [],
                    "roles": [],
                    "everyone": True,
                    "replied_user": int(hank["id"]),
                    "edit": False,
                    "silent": False,
                }
            ]
            await emulator.post_message("general", hank, "quiet")
            quiet = await emulator.wait_for_message()
            assert quiet["allowed_mentions"]["parse"] == []
            assert quiet["mention_everyone"] is False
            assert len(emulator.pings) == 1

    run(scenario)


def test_reconnect_resumes_and_replays_events_sent_in_the_gap() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client(message_content=True)
        seen: asyncio.Queue[str] = asyncio.Queue()

        @client.event
        async def on_message(message: discord.Message) -> None:
            await seen.put(message.content)

        async with running_client(emulator, client):
            ivy = emulator.add_user("ivy")
            await emulator.reconnect()
            await emulator.post_message("general", ivy, "sent while reconnecting")
            await emulator.wait_until_resumed()
            assert await asyncio.wait_for(seen.get(), 5) == "sent while reconnecting"
            assert (emulator.identifies, emulator.resumes) == (1, 1)

            await emulator.drop_connection()
            await emulator.post_message("general", ivy, "sent after the socket died")
            await emulator.wait_until_resumed(2)
            assert await asyncio.wait_for(seen.get(), 5) == "sent after the socket died"
            assert (emulator.identifies, emulator.resumes) == (1, 2)
            assert seen.empty()

    run(scenario)


def test_channel_message_rate_limit_answers_429_with_headers() -> None:
    async def main() -> None:
        async with DiscordEmulator(message_rate=(2, 5.0)) as emulator:
            url = f"{emulator.rest_base}/channels/{emulator.channels['general']}/messages"
            headers = {"Authorization": f"Bot {emulator.token}"}
            statuses, remaining = [], []
            async with aiohttp.ClientSession(headers=headers) as session:
                for _ in range(3):
                    async with session.post(url, json={"content": "hi"}) as resp:
                        statuses.append(resp.status)
                        remaining.append(resp.headers["X-RateLimit-Remaining"])
                        body = await resp.json()
            assert statuses == [200, 200, 429]
            assert remaining == ["1", "0", "0"]
            assert body["retry_after"] > 4 and body["global"] is False
            assert len(emulator.rate_limited) == 1 and len(emulator.messages) == 2

    asyncio.run(main())


def _files_tree(client: discord.Client, received: list[discord.Attachment]) -> app_commands.CommandTree:
    """A command group `files` with `upload file:` (reads the attachment) and `pick name:` (autocomplete)."""
    tree = app_commands.CommandTree(client)
    files = app_commands.Group(name="files", description="Files")
    names = [f"guide-{i:02}.md" for i in range(40)]

    @files.command(description="Upload a file")
    async def upload(interaction: discord.Interaction, file: discord.Attachment) -> None:
        received.append(file)
        data = await file.read()
        digest = hashlib.sha256(data).hexdigest()
        await interaction.response.send_message(f"{file.filename} {len(data)} {digest}", ephemeral=True)

    async def complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if current == "too-many":  # more than Discord accepts
            return [app_commands.Choice(name=n, value=n) for n in names[:30]]
        if current == "too-long":
            return [app_commands.Choice(name="x" * 101, value="x")]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)][:25]

    @files.command(description="Pick a file")
    @app_commands.autocomplete(name=complete)
    async def pick(interaction: discord.Interaction, name: str, note: str | None = None) -> None:
        await interaction.response.send_message(f"picked {name}")

    async def numbers(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        return [app_commands.Choice(name=f"version {i}", value=i) for i in range(3) if str(i).startswith(current)]

    @files.command(description="Pick a version")
    @app_commands.autocomplete(version=numbers)
    async def version(interaction: discord.Interaction, version: int) -> None:
        await interaction.response.send_message(f"version {version}")

    tree.add_command(files)
    return tree


def test_an_attachment_option_arrives_resolved_and_downloads_from_the_emulator() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()
        received: list[discord.Attachment] = []
        tree = _files_tree(client, received)
        async with running_client(emulator, client):
            await tree.sync()
            alice = emulator.add_user("alice")
            data = "# Guide\n\nHello, ünïcode.\n".encode()
            sent = await emulator.invoke(
                "files", alice, subcommand="upload", options={"file": UserFile("guide.md", data)}
            )
            command = sent.payload["data"]
            assert command["options"][0]["type"] == 1 and command["options"][0]["name"] == "upload"
            option = command["options"][0]["options"][0]
            assert option["type"] == 11
            attachment = command["resolved"]["attachments"][option["value"]]
            assert attachment["filename"] == "guide.md" and attachment["size"] == len(data)
            assert attachment["content_type"] == "text/markdown; charset=utf-8" and attachment["ephemeral"] is True
            assert attachment["url"].startswith(f"http://127.0.0.1:{emulator.port}/ephemeral-attachments/")
            assert "hm=" in attachment["url"]

            response = await sent.wait_response()
            assert response["data"]["content"] == f"guide.md {len(data)} {hashlib.sha256(data).hexdigest()}"
            assert received[0].size == len(data) and received[0].content_type.startswith("text/markdown")
            assert emulator.downloads == [
                {
                    "attachment_id": int(option["value"]),
                    "path": attachment["url"].split("?")[0].removeprefix(f"http://127.0.0.1:{emulator.port}"),
                    "size": len(data),
                    "bytes_sent": len(data),
                    "complete": True,
                    "status": 200,
                }
            ]
            tampered = attachment["url"].replace("hm=", "hm=0")
            async with aiohttp.ClientSession() as session, session.get(tampered) as resp:
                assert resp.status == 404  # a tampered signature gets nothing
            assert emulator.downloads[-1]["status"] == 404 and emulator.downloads[-1]["bytes_sent"] == 0
            emulator.cdn_content_length = False  # a CDN that streams without announcing the length
            async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as resp:
                assert resp.content_length is None and resp.headers["Transfer-Encoding"] == "chunked"
                assert await resp.read() == data

            big = UserFile("big.txt", b"a" * (emulator.attachment_size_limit + 1))
            with pytest.raises(ValueError, match="allows uploads up to"):
                await emulator.invoke("files", alice, subcommand="upload", options={"file": big})
            emulator.attachment_size_limit = 100 * 1024 * 1024  # a boosted server
            boosted = await emulator.invoke("files", alice, subcommand="upload", options={"file": big})
            assert (await boosted.wait_response())["data"]["content"].startswith(f"big.txt {len(big.data)} ")
            assert boosted.payload["attachment_size_limit"] == 100 * 1024 * 1024
            assert emulator.rejected == []

    run(scenario)


def test_autocomplete_sends_the_focused_text_and_enforces_discords_limits() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()
        tree = _files_tree(client, [])
        async with running_client(emulator, client):
            await tree.sync()
            bob = emulator.add_user("bob")
            typing = await emulator.autocomplete(
                "files", bob, subcommand="pick", focused="name", options={"name": "guide-1", "note": "hi"}
            )
            options = typing.payload["data"]["options"][0]["options"]
            assert {"name": "name", "type": 3, "value": "guide-1", "focused": True} in options
            assert "resolved" not in typing.payload["data"]
            choices = await typing.wait_choices()
            assert [c["value"] for c in choices] == [f"guide-1{i}.md" for i in range(10)]
            assert typing.responses[0]["type"] == 8

            everything = await emulator.autocomplete(
                "files", bob, subcommand="pick", focused="name", options={"name": ""}
            )
            assert len(await everything.wait_choices()) == 25

            numbered = await emulator.autocomplete(
                "files", bob, subcommand="version", focused="version", options={"version": "1"}
            )
            assert numbered.payload["data"]["options"][0]["options"][0]["value"] == "1", "typed text, not a number"
            assert await numbered.wait_choices() == [{"name": "version 1", "value": 1}]

            for text, path in (("too-many", "data.choices"), ("too-long", "data.choices.0.name")):
                await emulator.autocomplete("files", bob, subcommand="pick", focused="name", options={"name": text})
                rejection = await emulator.wait_for_rejection()
                assert rejection["code"] == 50035
                node = rejection["errors"]
                for part in path.split("."):
                    node = node[part]
                assert node["_errors"]

            with pytest.raises(ValueError, match="no autocomplete"):
                await emulator.autocomplete(
                    "files", bob, subcommand="pick", focused="note", options={"name": "g", "note": "x"}
                )

    run(scenario)


def test_an_ephemeral_prompt_can_be_clicked_only_by_its_user() -> None:
    class Confirm(discord.ui.View):
        @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.success)
        async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.edit_message(content=f"confirmed by {interaction.user.name}", view=None)

    async def scenario(emulator: DiscordEmulator) -> None:
        client = make_client()
        tree = app_commands.CommandTree(client)

        @tree.command(description="Asks first")
        async def delete(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Are you sure?", view=Confirm(), ephemeral=True)

        async with running_client(emulator, client):
            await tree.sync()
            carol, dan = emulator.add_user("carol"), emulator.add_user("dan")
            asked = await emulator.invoke("delete", carol)
            await asked.wait_response()
            prompt = asked.original
            assert prompt["flags"] & 64
            with pytest.raises(PermissionError):
                await emulator.click(prompt, "confirm", dan)
            clicked = await emulator.click(prompt, "confirm", carol)
            assert (await clicked.wait_response())["type"] == 7
            assert emulator.get_message(prompt["id"])["content"] == "confirmed by carol"
            assert emulator.get_message(prompt["id"])["flags"] & 64
            assert emulator.rejected == []

    run(scenario)
