"""The errors a corpus change can end with. Each message is short, plain and shown to the user as it is."""

from __future__ import annotations

from bot.errors import CorpusChangeError

__all__ = ["AlreadyExists", "CorpusBusy", "CorpusChangeError", "UnknownDocument"]


class CorpusBusy(CorpusChangeError):
    """Another corpus change is running; try again in a moment."""


class UnknownDocument(CorpusChangeError):
    """No current document (or archived version) has that name or number."""


class AlreadyExists(CorpusChangeError):
    """add() without replace=True for a name that is already in the corpus."""
