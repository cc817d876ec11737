"""What a newcomer reads in Discord: quotes with their commands as code, declines with nearby questions."""

from bot.discord_app import render
from bot.retrieval import Answer, Result


def _result(quote: str, code: tuple[tuple[int, int], ...] = ()) -> Result:
    return Result(quote=quote, source="GitHub Workflow", section="Squash commits", score=0.9, code=code)


def test_commands_in_a_quote_show_as_code_inside_the_block_quote():
    quote = (
        "To squash your commits, perform an interactive rebase:\n• Check your branch with git status first.\ngit status"
    )
    inline = quote.index("git status")
    block = quote.rindex("git status")
    result = _result(quote, ((inline, inline + 10), (block, block + 10)))
    description = render.answer_embed(Answer("how do I squash?", True, [result])).description
    lines = description.splitlines()
    assert lines[:5] == [
        "> To squash your commits, perform an interactive rebase:",
        "> • Check your branch with `git status` first.",
        "> ```",
        "> git status",
        "> ```",
    ]
    assert "GitHub Workflow" in lines[-1]


def test_a_quote_without_code_is_escaped_as_before():
    description = render.answer_embed(Answer("q", True, [_result("Use *stars* and `ticks` as written.")])).description
    assert description.startswith(r"> Use \*stars\* and \`ticks\` as written.")


def test_a_decline_lists_the_suggested_questions():
    embed = render.decline_embed("how do I bake bread?", ["What advice would you give to someone new?"], [])
    field = next(f for f in embed.fields if f.name.startswith("Things I can answer"))
    assert field.value == "• What advice would you give to someone new?"
