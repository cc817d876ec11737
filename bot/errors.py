"""The error a change to the corpus ends with, in a leaf module: ingestion (bot/documents.py, bot/html_convert.py)
raises it without importing the corpus package, which imports ingestion."""

from __future__ import annotations


class CorpusChangeError(Exception):
    """A change was refused or failed before touching anything; the message is short, plain and user-facing."""
