"""The synthetic large size of `make bench`: the archive once as it is plus perturbed copies of it, built through the
real build path (`bot.index.build_index`) with an encoder that reuses the original texts' vectors.

Embedding five times the archive for real would take about 45 minutes on a 2-core machine and would measure the
model again, not the index. So this size measures serving (query latency, memory, cold start), not build time.

Each copy marks every line of prose with a word of its own (`xqzb`, `xqzc`, ...), after the first word of the
line and of every sentence that starts inside it, so no passage of a copy equals another copy's (the bot compares
quotes by letters and digits) and BM25 and the embeddings still see the original words. The encoder takes the
marker out again, looks the original text up in the vector cache of `make eval` (embedding it once when it is not
there), adds small noise seeded by the copy's text and makes the vector unit length again.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.embedding import ProgressFn, TextEncoder
from tools.evaluation import CachedEncoder

ARCHIVE_FOLDER = "k8s-community"  # where the bench lays out the archive's files in a corpus
NOISE = 0.007  # per dimension: a copy's vector keeps a cosine of about 0.99 with its original's
SUFFIXES = (".md", ".markdown", ".txt")

_MARKER = re.compile(r"xqz[b-z](?!\w)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SKIPPED_LINE = re.compile(r"^\s*(?:\||<|\[[^\]]+\]:|[-=*_\s]+$)")  # tables, HTML, link definitions, rules
_BARE_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*$")  # a link definition whose address is on the next line
_PREFIX = re.compile(r"^(?:\s*(?:[-*+]|\d+[.)]|#{1,6}|>)(?=\s))*\s*")  # list markers, heading and quote marks
# where a marker goes: joined to the first word of a line that is not inside a link (a reference link's label must
# still match its definition; a line that is only inline links is marked inside the first one's text, so it stays a
# link), and to the first word of every sentence that starts inside the line (after punctuation, a space and a
# capital, where the project splits sentences). Joined, so no fragment gains a word; never to a word before a full
# stop ("Dr.", "e.g."), which would change where sentences end.
_LINK_OR_WORD = re.compile(r"!?\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])?|(?<!&)\b(\w+)\b(?![.;])")
_INLINE_LINK_TEXT = re.compile(r"^\W*\[[^\]]*?(\w+)[^\]]*\]\(")
_INNER_START = re.compile(r"([.!?]+[\"'”’)\]]*\s+[\"“‘(]?)([A-Z]\w*)\b(?!\.)")


def marker(copy: int) -> str:
    """The word that marks copy number `copy` (1 for the first perturbed copy)."""
    return "xqz" + chr(ord("a") + copy)


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def perturb(text: str, word: str) -> str:
    """`text` (Markdown or plain text) with `word` after the first word of every line of prose and of every sentence
    that starts inside one. Front matter, code blocks, tables, HTML and link definitions are left as they are."""
    lines = text.split("\n")
    front = 0
    if lines and lines[0].strip() == "---":
        front = next((i + 1 for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)
    out = lines[:front]
    fence: str | None = None
    definition = False  # the line before was a link definition's label alone
    for line in lines[front:]:
        opening = _FENCE.match(line)
        if opening:
            fence = None if fence and opening.group(1) == fence else fence or opening.group(1)
            out.append(line)
            continue
        if fence or definition or _SKIPPED_LINE.match(line) or not any(c.isalpha() for c in line):
            definition = bool(_BARE_DEFINITION.match(line)) or (definition and not line.strip())
            out.append(line)
            continue
        prefix = _PREFIX.match(line).group()  # type: ignore[union-attr]  # the pattern matches every line
        body = _INNER_START.sub(rf"\1\2{word}", line[len(prefix) :])
        out.append(prefix + _mark_first_word(body, word))
    return "\n".join(out)


def _mark_first_word(line: str, word: str) -> str:
    first = next((m for m in _LINK_OR_WORD.finditer(line) if m.group(1)), None)
    if first is None:
        first = _INLINE_LINK_TEXT.match(line)
    if first is None or first.group(1).endswith(word):  # nothing to mark, or a sentence start marked already
        return line
    return line[: first.end(1)] + word + line[first.end(1) :]


def write_copies(corpus: Path, copies: int) -> int:
    """Add `copies - 1` perturbed copies of `corpus`'s archive folder beside it; returns the files written."""
    source = corpus / ARCHIVE_FOLDER
    written = 0
    for copy in range(1, copies):
        target = corpus / f"{ARCHIVE_FOLDER}-copy{copy + 1}"
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix.lower() in SUFFIXES:
                dest.write_text(perturb(path.read_text(encoding="utf-8", errors="replace"), marker(copy)), "utf-8")
            else:
                shutil.copy2(path, dest)
            written += 1
    return written


class CountingEncoder:
    """The real encoder, counting the texts it embeds (those the vector cache did not hold)."""

    def __init__(self, inner: TextEncoder) -> None:
        self.inner = inner
        self.name, self.fingerprint = inner.name, inner.fingerprint
        self.model_dir, self.runtime = inner.model_dir, inner.runtime
        self.embedded = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)


class SyntheticEncoder:
    """A copy's text gets its original's vector plus small noise seeded by the copy's text, unit length again; a
    text without a marker gets its own vector, unchanged. It presents the real encoder's name, fingerprint and
    runtime, so the bot serves the build as its own (an index made with another fingerprint would be rebuilt)."""

    def __init__(self, cached: CachedEncoder, noise: float = NOISE) -> None:
        self.cached = cached
        self.name, self.fingerprint = cached.name, cached.fingerprint
        self.model_dir, self.runtime = cached.model_dir, cached.runtime
        self.noise = noise
        self.perturbed = 0  # texts that carried a marker
        self.unmarked = 0  # texts that did not (the original archive, the interview, the guides)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray:
        originals = [strip_markers(t) for t in texts]
        vectors = self.cached.encode(originals, batch_size=batch_size)
        changed = [i for i, (t, o) in enumerate(zip(texts, originals, strict=True)) if t != o]
        if changed:
            vectors = vectors.copy()
            for i in changed:
                seed = int.from_bytes(hashlib.sha1(texts[i].encode("utf-8"), usedforsecurity=False).digest()[:8])
                vectors[i] += np.random.default_rng(seed).normal(0.0, self.noise, vectors.shape[1])
            vectors[changed] /= np.linalg.norm(vectors[changed], axis=1, keepdims=True)
        self.perturbed += len(changed)
        self.unmarked += len(texts) - len(changed)
        if progress:
            progress(len(texts))
        return vectors.astype(np.float32, copy=False)

    def encode_query(self, text: str) -> np.ndarray:
        return self.cached.encode_query(text)
