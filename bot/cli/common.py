"""What the commands share: the usage error, the --corpus and --index options, and the progress bar of builds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import Settings
from bot.datadir import seed_corpus


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _with_paths(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The --corpus and --index options every command takes."""
    sub.add_argument("--corpus", type=Path, metavar="DIR", help="corpus directory (default: CORPUS_DIR or corpus/)")
    sub.add_argument("--index", type=Path, metavar="DIR", help="index directory (default: INDEX_DIR or embeddings/)")
    return sub


def _paths(args: argparse.Namespace, settings: Settings) -> tuple[Path, Path]:
    if args.corpus is None:
        seed_corpus(settings)  # DATA_DIR's first start: the shipped documents are copied there
    return (args.corpus or settings.corpus_dir), (args.index or settings.index_dir)


class _ProgressBar:
    """A tqdm bar on stderr for index builds; use it as a context manager so the bar is always closed."""

    def __init__(self, desc: str = "Embedding passages", unit: str = "text") -> None:
        self.bar = None
        self.desc, self.unit = desc, unit

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)


def _notify(message: str) -> None:
    print(message, file=sys.stderr)
