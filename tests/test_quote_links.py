"""Links inside a quote keep their target (issue 17): in Discord a document's own link becomes a masked link to its
absolute address; a link that cannot be made absolute, or to another scheme, stays text; nothing else becomes one."""

from __future__ import annotations

from pathlib import Path

from bot.discord_app import render
from bot.embedding import Embedder
from bot.service import AnswerService
from tests.discord_helpers import assert_clean, mention, reply_to, run, session
from tests.discord_markdown import render as discord_render

TEXT = "An overview of the release team can be found here. Shadows apply each cycle."
HERE = (TEXT.index("here"), TEXT.index("here") + 4)


def test_a_documents_link_becomes_a_masked_link_and_nothing_else_does():
    url = "https://github.com/kubernetes/sig-release/blob/master/release-team/README.md"
    shown = discord_render(render.markup(TEXT, key=(0, TEXT.index(".") + 1), links=[(*HERE, url)]))
    assert [(label, target) for label, target in shown.links] == [("here", url)]
    assert shown.visible == TEXT
    # a target that is not http(s) stays plain text
    unsafe = discord_render(render.markup(TEXT, links=[(*HERE, "javascript:alert(1)")]))
    assert unsafe.links == [] and unsafe.visible == TEXT
    # a link cut by code stays text too
    cut = discord_render(render.markup(TEXT, code=[(HERE[0] + 1, HERE[1] + 3)], links=[(*HERE, url)]))
    assert cut.links == []


def test_an_answer_quoting_a_linked_sentence_links_it(tmp_path: Path, embedder: Embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "release.md").write_text(
        "# Release team\n\n## Joining\n\nAn overview of the release team can be found "
        "[here](https://example.org/release-team/). Shadows apply at the start of every release cycle.\n",
        encoding="utf-8",
    )
    service = AnswerService(corpus, tmp_path / "index", embedder)
    service.load(notify=lambda message: None)

    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            asked = await emulator.post_message(
                "general", emulator.add_user("rae"), mention(emulator, "where is the overview of the release team?")
            )
            answer = await reply_to(emulator, asked)
            shown = discord_render(answer["embeds"][0]["description"])
            assert ("here", "https://example.org/release-team/") in shown.links
            assert_clean(emulator)

    run(scenario)
