"""Out of scope, said kindly (bot/scope.py): scopes.toml is checked like sources.toml, the decision is pure, and the
real service declines a question about using Kubernetes with the moderators' pointer while it answers a newcomer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, ConfigError, Settings
from bot.discord_app.render import decline_embed, pointer_text
from bot.embedding import Embedder
from bot.lessons import LessonBook, TaughtResult
from bot.scope import CLOSENESS, MARGIN, SLACK, ScopeError, Scopes, Topic, Verdict, load_topics
from bot.service import AnswerService
from tests.conftest import CORPUS
from tests.discord_helpers import assert_clean, buttons, embed_text, mention, reply_to, session
from tests.discord_helpers import run as run_discord
from tests.discord_markdown import render as discord_render
from tests.test_cli import run

SHIPPED = PROJECT_ROOT / "scopes.toml"
CRASHING = "my pod keeps crashing with CrashLoopBackOff what do i check"
POINTER = "For help running Kubernetes, see the user docs (https://kubernetes.io/docs/) or ask in #kubernetes-users."
EXAMPLES = 'examples = ["a?", "b?", "c?"]\n'

# --- scopes.toml ------------------------------------------------------------------------------------------------------


def test_the_shipped_file_names_using_kubernetes_and_private_lives():
    topics = {topic.name: topic for topic in load_topics(SHIPPED)}
    assert set(topics) == {"using Kubernetes", "people's private lives"}
    assert topics["using Kubernetes"].pointer == POINTER
    assert all(3 <= len(topic.examples) <= 30 for topic in topics.values())
    assert Settings.from_env({}).scopes_file == SHIPPED


def test_an_absent_file_names_no_topics_and_a_setting_points_elsewhere(tmp_path: Path):
    assert load_topics(tmp_path / "absent.toml") == []
    assert Settings.from_env({"SCOPES_FILE": str(tmp_path / "mine.toml")}).scopes_file == tmp_path / "mine.toml"


def test_spacing_is_tidied_and_names_kept_as_written(tmp_path: Path):
    path = tmp_path / "scopes.toml"
    path.write_text('[[topic]]\nname = "  using   Kubernetes "\npointer = "Ask\tin #users."\n' + EXAMPLES)
    assert load_topics(path) == [Topic("using Kubernetes", "Ask in #users.", ("a?", "b?", "c?"))]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[[topic]]\nname = "a"\npointer = "p"\n' + EXAMPLES + 'example = ["d"]\n', 5, "unknown key 'example'"),
        ('title = "x"\n[[topic]]\nname = "a"\npointer = "p"\n' + EXAMPLES, 1, "unknown key 'title'"),
        ('[[topic]]\nname = "a"\n' + EXAMPLES, 1, "has no 'pointer'"),
        ('[[topic]]\nname = "a"\npointer = """one\ntwo"""\n' + EXAMPLES, 3, "'pointer' must be one line"),
        ('[[topic]]\nname = ""\npointer = "p"\n' + EXAMPLES, 2, "'name' must be one line of text"),
        ('[[topic]]\nname = "a"\npointer = "p"\nexamples = ["a?", "b?"]\n', 4, "has 2; give 3 to 30"),
        ('[[topic]]\nname = "a"\npointer = "p"\nexamples = "a?"\n', 4, "must be a list of questions"),
        ('[[topic]]\nname = "a"\npointer = "p"\nexamples = ["a?", "b?", 3]\n', 4, "each example must be one line"),
        ('[[topic]]\nname = "a"\npointer = "p"\nexamples = ["a?", "b?", "A?"]\n', 4, "'A?' is given twice"),
        (
            '[[topic]]\nname = "a"\npointer = "p"\n' + EXAMPLES + '\n[[topic]]\nname = "A"\npointer = "q"\n' + EXAMPLES,
            7,
            "is named twice (first on line 2)",
        ),
        ("topic = 3\n", 1, "write each topic as [[topic]]"),
    ],
)
def test_a_bad_scopes_file_is_refused_with_the_line_and_reason(tmp_path: Path, text: str, line: int, reason: str):
    path = tmp_path / "scopes.toml"
    path.write_text(text)
    with pytest.raises(ScopeError) as caught:
        load_topics(path)
    assert f"{path}, line {line}: " in str(caught.value) and reason in str(caught.value)
    assert isinstance(caught.value, ConfigError), "the command line reports it as one line, like any setting"


def test_a_file_that_is_not_toml_or_too_long_an_example_is_refused(tmp_path: Path):
    path = tmp_path / "scopes.toml"
    path.write_text("[[topic]\n")
    with pytest.raises(ScopeError, match="is not valid TOML"):
        load_topics(path)
    path.write_text('[[topic]]\nname = "a"\npointer = "p"\nexamples = ["a?", "b?", "' + "c" * 301 + '"]\n')
    with pytest.raises(ScopeError, match="at most 300 characters"):
        load_topics(path)


def test_the_command_line_refuses_a_bad_file_in_one_line(tmp_path: Path):
    path = tmp_path / "scopes.toml"
    path.write_text('[[topic]]\nname = "a"\npointr = "p"\n')
    done = run("ask", "how do I start?", env={"SCOPES_FILE": str(path)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        == f"error: {path}, line 3: unknown key 'pointr' in [[topic]] (known: name, pointer, examples)."
    )


# --- the decision -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closeness", "evidence", "typical", "answered", "out"),
    [
        (CLOSENESS + 0.2, CLOSENESS + 0.2 - MARGIN, 0.0, True, True),  # closer to the topic than to any passage
        (CLOSENESS + 0.2, CLOSENESS + 0.21 - MARGIN, 0.0, True, False),  # the documents come closer
        (CLOSENESS, 0.7, 0.7 - SLACK, True, True),  # no closer than the corpus comes to the topic's own examples
        (CLOSENESS, 0.71, 0.7 - SLACK, True, False),
        (CLOSENESS - 0.01, 0.0, 1.0, True, False),  # not close enough to the topic, however weak the evidence
        (CLOSENESS, 0.0, 0.0, False, True),  # declined anyway: close enough to be given the pointer
        (CLOSENESS - 0.01, 0.0, 0.0, False, False),
    ],
)
def test_a_question_is_out_of_scope_when_the_documents_answer_it_no_better_than_the_topic(
    closeness: float, evidence: float, typical: float, answered: bool, out: bool
):
    scopes = Scopes([Topic("t", "p", ("a", "b", "c"))], encoder=None)  # type: ignore[arg-type]  # never embeds
    assert scopes.out_of_scope(Verdict(scopes.topics[0], closeness, evidence, typical), answered) is out
    assert not scopes.out_of_scope(Verdict(None, 1.0, 0.0), answered)


# --- the real service ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scoped(corpus_index_dir: Path, embedder: Embedder) -> AnswerService:
    service = AnswerService(CORPUS, corpus_index_dir, embedder, topics=load_topics(SHIPPED))
    service.load(notify=lambda message: None)
    return service


def test_a_question_about_using_kubernetes_is_declined_with_the_pointer(scoped: AnswerService):
    answer = scoped.ask(CRASHING)
    assert not answer.answered and answer.results == []
    assert (answer.topic, answer.pointer) == ("using Kubernetes", POINTER)
    assert answer.suggestions, "what it can answer still follows"


def test_a_newcomers_question_is_answered_as_before(scoped: AnswerService, service: AnswerService):
    for question in ("how do I start contributing?", "did jaice have anything to do with helm", "what is kubernetes?"):
        answer = scoped.ask(question)
        assert answer.answered and answer.pointer is None, question
        assert answer.results == service.ask(question).results


def test_naming_the_speaker_does_not_make_a_personal_question_on_topic(scoped: AnswerService):
    answer = scoped.ask("what laptop does Jaice use?")
    assert not answer.answered
    assert answer.topic == "people's private lives"


def test_a_moderators_lesson_wins_over_a_topic(scoped: AnswerService, tmp_path: Path):
    book = LessonBook(tmp_path / "bot.sqlite3")
    book.teach(CRASHING, "mod", scoped.snapshot.index, "I missed solving problems directly")
    answer = scoped.ask(CRASHING, lessons=book)
    assert answer.answered and isinstance(answer.results[0], TaughtResult) and answer.pointer is None
    assert scoped.ask("my pod is stuck in ImagePullBackOff", lessons=book).pointer == POINTER


def test_the_command_line_shows_the_pointer_first(corpus_index_dir: Path):
    done = run("ask", "--index", str(corpus_index_dir), CRASHING)
    assert done.returncode == 0, done.stderr
    first, pointer = done.stdout.splitlines()[:2]
    assert first.startswith("That looks like a question about using Kubernetes") and pointer == POINTER
    asked = run("ask", "--index", str(corpus_index_dir), "--json", CRASHING)
    assert '"pointer": "For help running Kubernetes' in asked.stdout


# --- in Discord ---------------------------------------------------------------------------------------------------


def test_a_pointer_links_only_http_addresses_and_forms_no_markup():
    shown = pointer_text("See (https://kubernetes.io/docs/) or #users, @everyone *now*; not javascript://x or ftp://y")
    assert "(<https://kubernetes.io/docs/>)" in shown
    assert "\\@everyone" in shown and "\\*now\\*" in shown
    assert "`javascript://x`" in shown and "`ftp://y`" in shown
    assert "`https://user:secret@example.org/`" in pointer_text("https://user:secret@example.org/")


def test_the_decline_embed_puts_the_pointer_before_the_suggestions():
    embed = decline_embed("q?", ["How do I start?"], [], scope=("using Kubernetes", POINTER))
    assert embed.description is not None
    first, _, pointer = embed.description.split("\n")
    assert first.startswith("That looks like a question about using Kubernetes")
    assert pointer == pointer_text(POINTER) and "<https://kubernetes.io/docs/>" in pointer
    assert embed.fields[0].name == "Things I can answer, for example"


def test_discord_declines_with_the_pointer_and_pings_nobody(scoped: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(scoped, tmp_path / "bot.sqlite3") as (emulator, _):
            alice = emulator.add_user("alice")
            asked = await emulator.post_message("general", alice, mention(emulator, CRASHING))
            reply = await reply_to(emulator, asked)
            shown = discord_render(embed_text(reply))  # as a Discord client shows it
            assert "That looks like a question about using Kubernetes" in shown.visible
            assert POINTER in shown.visible, "the pointer, word for word"
            assert shown.urls == ["https://kubernetes.io/docs/"] and shown.links == []
            assert shown.mentions == [], "#kubernetes-users is words, not a channel link"
            assert "Things I can answer, for example" in shown.visible and buttons(reply) == {}
            await emulator.send_dm(alice, "how do I start contributing?")
            answer = await emulator.wait_for_message(lambda m: m["channel_id"] != str(emulator.channels["general"]))
            assert "Jaice Singer DuMars" in embed_text(answer) and "using Kubernetes" not in embed_text(answer)
            assert_clean(emulator)

    run_discord(scenario)
