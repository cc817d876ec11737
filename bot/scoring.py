"""How a question's candidate windows are scored: one column per signal, one weight per column.

(filled in below)
"""

from __future__ import annotations

import re
from typing import Any

from bot.index import PassageIndex, import_bm25s
from bot.text import search_tokens

# Documents that record what happened rather than explain how things work: minutes, notes, archives, elections,
# reports, retrospectives. Named so in their path or title; they rarely answer a newcomer's question.
_RECORD = re.compile(
    r"(minutes|meeting[-_ ]?notes|notes|agenda|archive|election|candidate|nomination|voters?\b|annual[-_ ]report|"
    r"retro(spective)?s?\b|summit|survey[-_ ]results|\b(19|20)\d\d[-_]\d\d)",
    re.IGNORECASE,
)
_TRANSLATION = 0.06  # below this share of English function words a document is not in English


def document_prior(doc: dict[str, Any], authority_weight: float, record_penalty: float) -> float:
    """A document's standing before any question: a moderator's front-matter authority, minus a default penalty
    for records and for documents not in English (translated copies of a page)."""
    authority = float(doc.get("authority", 1.0))
    if authority == 0:
        return -10.0  # "never": kept in the index, never quoted
    prior = authority_weight * (authority - 1.0)
    if authority == 1.0 and _RECORD.search(f"{doc['name']} {doc['title']}"):
        prior -= record_penalty
    if doc.get("english", 1.0) < _TRANSLATION:
        prior -= 1.0
    return prior


def about_index(index: PassageIndex) -> tuple[Any, frozenset[str]]:
    """BM25 over each document's title, description and headings."""
    bm25 = import_bm25s().BM25()
    tokens = [search_tokens(doc.get("about") or doc["title"]) or ["\x00"] for doc in index.documents]
    bm25.index(tokens, show_progress=False)
    return bm25, frozenset(bm25.vocab_dict)
