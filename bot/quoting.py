"""A passage as it is quoted: a window's text, carried on with the list or code its lead-in introduces, and the
comparable form that finds the same words shown twice."""

from __future__ import annotations

import re

from bot.documents import Span
from bot.index import CHUNKING, PassageIndex
from bot.text import normalize_for_match


def quote_span(index: PassageIndex, p: int, first: int, length: int) -> tuple[str, tuple[Span, ...]]:
    """The quote of sentences `first` to `first + length - 1` of paragraph `p`, and the offsets of its code. A quote
    that ends its paragraph on a lead-in ("To squash your commits, perform an interactive rebase:") carries on with
    the list items or code the lead-in introduces, one per line, within the quote limit; what does not fit is cut
    and marked with "…"."""
    para = index.paragraphs[p]
    start, end = para.sentences[first][0], para.sentences[first + length - 1][1]
    text = para.text[start:end]
    code = [(max(a, start) - start, min(b, end) - start) for a, b in para.code if a < end and b > start]
    if not para.follow or end < len(para.text.rstrip()) or not text.endswith(":"):
        return text, tuple(code)
    for block in para.follow:
        if block.kind == "code":
            prefix, body, inner = "", block.text, [(0, len(block.text))]
        else:
            prefix, body, inner = "  " * block.depth + "• ", block.text, list(block.code)
        line = "\n" + prefix + body
        if len(text) + len(line) > CHUNKING["max_quote_chars"]:
            room = CHUNKING["max_quote_chars"] - len(text) - len(prefix) - 2
            offset = len(text) + 1 + len(prefix)
            if block.kind == "item" and room > 40:
                cut = body[:room].rsplit(" ", 1)[0].rstrip(" ,;:")
                code += [(offset + a, offset + min(b, len(cut))) for a, b in inner if a < len(cut)]
                text += "\n" + prefix + cut + "…"
            elif block.kind == "code" and "\n" in body[:room]:  # whole lines of the command, then "…"
                lines = body[:room].rsplit("\n", 1)[0]
                code.append((offset, offset + len(lines)))
                text += "\n" + lines + "\n…"
            else:
                text += "\n…"
            break
        offset = len(text) + 1 + len(prefix)
        code += [(offset + a, offset + b) for a, b in inner]
        text += line
    return text, tuple(code)


def comparable(text: str) -> str:
    """Letters and digits only, lower case: copies of a passage that differ in punctuation or markup compare equal."""
    return re.sub(r"[\W_]+", " ", normalize_for_match(text)).strip()
