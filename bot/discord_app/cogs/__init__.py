"""The bot's features, one discord.py cog per module, each holding its commands and listeners:

    answers.py     /ask, mentions, DMs, replies and auto-answer channels
    quotes.py      /quote
    moderation.py  /sources, and /reindex for moderators
    stats.py       /stats for moderators
    corpus.py      /corpus: moderators manage the documents
    teaching.py    /teach and the Fix this answer message command: moderators' lessons

Their buttons and panels are in bot/discord_app/views.py; the moderator rule they share in bot/discord_app/common.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.discord_app.cogs.answers import Answers
from bot.discord_app.cogs.corpus import Corpus
from bot.discord_app.cogs.moderation import Moderation
from bot.discord_app.cogs.quotes import Quotes
from bot.discord_app.cogs.stats import Stats
from bot.discord_app.cogs.teaching import Teaching

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot


async def add_cogs(bot: OnboardingBot) -> None:
    """Add every feature to `bot` (its slash commands join bot.tree), in the order Discord lists the commands."""
    for cog in (Answers(bot), Quotes(bot), Moderation(bot), Stats(bot), Corpus(bot), Teaching(bot)):
        await bot.add_cog(cog)
