"""Managing the corpus safely: add, replace, remove and restore documents, with an audit log and every old version kept.

The Discord `/corpus` commands and `python -m bot corpus ...` both go through `CorpusManager`; nothing here imports
discord. A change runs in this order, one file for each part:

1. checks.py: the upload is validated before anything is touched (name, size, UTF-8 text, at least one quotable
   passage as the index would cut it); bot/html_convert.py turns HTML into Markdown text first.
2. journal.py: one change at a time (a lock), each one journaled (archive, audit row, atomic write), so that a kill at
   any point leaves a state recover() can finish or roll back. Its opening comment tells that story whole.
3. manager.py: CorpusManager, which puts these together and reindexes after a change, and the queries behind list,
   show, versions, history and autocomplete.

errors.py holds the errors they raise.
"""

from bot.corpus.checks import (
    ALLOWED_SUFFIXES,
    MAX_NAME_CHARS,
    MAX_UPLOAD_BYTES,
    check_filename,
    check_size,
    decode_text,
    parse_document,
    summarize,
)
from bot.corpus.errors import AlreadyExists, CorpusBusy, CorpusChangeError, UnknownDocument
from bot.corpus.journal import BUSY_MESSAGE, CRASH_ENV, Journal
from bot.corpus.manager import AuditEntry, Change, CorpusManager, DocumentInfo, Preview, Version, plural
from bot.html_convert import html_to_markdown

__all__ = [
    "ALLOWED_SUFFIXES",
    "BUSY_MESSAGE",
    "CRASH_ENV",
    "MAX_NAME_CHARS",
    "MAX_UPLOAD_BYTES",
    "AlreadyExists",
    "AuditEntry",
    "Change",
    "CorpusBusy",
    "CorpusChangeError",
    "CorpusManager",
    "DocumentInfo",
    "Journal",
    "Preview",
    "UnknownDocument",
    "Version",
    "check_filename",
    "check_size",
    "decode_text",
    "html_to_markdown",
    "parse_document",
    "plural",
    "summarize",
]
