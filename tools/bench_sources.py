"""Syncing a git source at the archive's size: a sync with no change and a sync with one changed file.

The archive (../shared/samples/kubernetes-community-docs.tar.gz, or BENCH_LARGE_ARCHIVE) is committed to a local git
repository with a bare remote; `python -m bot sources sync`'s path (`sync_sources`, the real git, the real model's
ONNX export, `build_index`) syncs it once (the first sync embeds everything and is not timed against a target),
then again with no change (target ≤ 10 s), then after one file is edited and pushed (target ≤ 15 s).

    python -m tools.bench_sources [--archive PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder
from bot.encoder import query_embedder
from bot.sources import SourceSpec, SourcesSetup, sync_sources

SAMPLE = PROJECT_ROOT.parent / "shared" / "samples" / "kubernetes-community-docs.tar.gz"
DEFAULT_ARCHIVE = Path(os.environ.get("BENCH_LARGE_ARCHIVE") or SAMPLE)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.org",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.org",
}
TARGETS = {"no change": 10.0, "one changed file": 15.0}


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_sources", description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    if not args.archive.is_file():
        print(f"The archive {args.archive} is not there; set BENCH_LARGE_ARCHIVE to measure a sync.")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as temporary:
        base = args.keep or Path(temporary)
        base.mkdir(parents=True, exist_ok=True)
        work, bare = base / "work", base / "remote.git"
        with tarfile.open(args.archive) as archive:
            archive.extractall(work, filter="data")
        _git("init", "--quiet", "-b", "master", str(work))
        _git("add", "--all", cwd=work)
        _git("commit", "--quiet", "-m", "archive", cwd=work)
        _git("init", "--quiet", "--bare", "-b", "master", str(bare))
        _git("push", "--quiet", str(bare), "master", cwd=work)
        corpus = base / "corpus"
        corpus.mkdir(exist_ok=True)
        spec = SourceSpec(
            name="community",
            git=bare.as_uri(),
            branch="master",
            # the archive's one file that is not UTF-8 (a sync refuses a source holding one until it is excluded)
            exclude=("events/2017/05-leadership-summit/session-notes/1345-1430_SIGGOVERNANCE.md",),
            link="https://github.com/kubernetes/community/blob/master/{path}",
        )
        setup = SourcesSetup((spec,), base / "sources")
        settings = Settings.from_env()
        encoder = query_embedder(
            settings.encoder_dir, Embedder.from_setting(settings.embedding_model), settings.encoder_precision
        )
        index_dir = base / "index"

        def timed(label: str) -> float:
            started = time.monotonic()
            report = sync_sources(setup, corpus, index_dir, encoder)
            seconds = time.monotonic() - started
            (result,) = report.results
            embedded = report.build.embedded_documents if report.build else 0
            documents = report.build.documents if report.build else "unchanged"
            print(
                f"{label}: {seconds:.1f} s (commit {(result.commit or '')[:12]}, {len(result.added)} added, "
                f"{len(result.changed)} changed, {len(result.removed)} removed; {embedded} embedded; documents "
                f"{documents})",
                flush=True,
            )
            if result.error:
                raise SystemExit(result.error)
            return seconds

        timed("first sync (embeds everything)")
        figures = {"no change": timed("sync with no change")}
        target = work / "contributors" / "guide" / "README.md"
        if not target.is_file():
            target = sorted(work.rglob("*.md"))[0]
        target.write_text(target.read_text(encoding="utf-8") + "\n\nOne more sentence, added for the benchmark.\n")
        _git("commit", "--quiet", "-am", "one change", cwd=work)
        _git("push", "--quiet", str(bare), "master", cwd=work)
        figures["one changed file"] = timed(f"sync with one changed file ({target.relative_to(work)})")
        for label, seconds in figures.items():
            verdict = "met" if seconds <= TARGETS[label] else "missed"
            print(f"{label}: {seconds:.1f} s against a target of ≤ {TARGETS[label]:g} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
