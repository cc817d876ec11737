"""Fetching a source with the real `git`: a shallow fetch of one branch into a bare cache repository, the fetched tree
checked against the limits, then checked out into a fresh directory named by its commit.

Git never prompts (GIT_TERMINAL_PROMPT=0, no askpass) and every call has a timeout. A token for a private repository
is read from the environment variable the source names and handed to git as an HTTP header through git's own
environment (GIT_CONFIG_COUNT…), so it is in no command line, URL or message; credentials written in a URL are
removed from everything shown.
"""

from __future__ import annotations

import base64
import os
import posixpath
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.documents import corpus_files
from bot.index.roots import Root
from bot.sources.config import SourceSpec, redact

MAX_FILES = 20_000
MAX_BYTES = 200 * 1024 * 1024
GIT_TIMEOUT = 300.0


class SyncError(Exception):
    """A source cannot be synced; the message is one plain sentence."""


@dataclass(frozen=True)
class Limits:
    files: int = MAX_FILES
    bytes: int = MAX_BYTES
    timeout: float = GIT_TIMEOUT


def _environment(spec: SourceSpec) -> tuple[dict[str, str], list[str]]:
    """git's environment for this source, and the secrets to remove from anything it prints."""
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GCM_INTERACTIVE": "never",
        "LC_ALL": "C",
        "LANGUAGE": "C",
    }
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    secrets: list[str] = []
    if spec.token_env:
        token = os.environ.get(spec.token_env, "").strip()
        if not token:
            raise SyncError(
                f"Source {spec.name} reads its token from {spec.token_env}, which is not set in the environment."
            )
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        env["GIT_CONFIG_COUNT"] = str(count + 1)
        env[f"GIT_CONFIG_KEY_{count}"] = "http.extraHeader"
        env[f"GIT_CONFIG_VALUE_{count}"] = f"Authorization: Basic {basic}"
        secrets += [token, basic]
    return env, secrets


def _clean(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@", r"\1***@", text)


def _run(
    args: list[str], env: dict[str, str], secrets: list[str], timeout: float, what: str, cwd: Path | None = None
) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SyncError(f"{what}: git did not finish within {timeout:g} s.") from None
    except FileNotFoundError:
        raise SyncError("The git program is not installed (it is needed to sync sources).") from None
    if done.returncode != 0:
        raise SyncError(f"{what}: {_explain(_clean(done.stderr.decode('utf-8', 'replace'), secrets))}")
    return done.stdout.decode("utf-8", "replace")


def _explain(stderr: str) -> str:
    """git's complaint, as a reason a moderator can act on."""
    low = stderr.lower()
    if "couldn't find remote ref" in low or ("remote branch" in low and "not found" in low):
        return "the remote has no such branch."
    if any(
        s in low
        for s in (
            "authentication failed",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "permission denied (publickey",
            "http 401",
            "http 403",
            "error: 401",
            "error: 403",
            "returned error: 401",
            "returned error: 403",
        )
    ):
        return "the remote refused access (authentication failed; check the token its token_env names)."
    if any(
        s in low
        for s in (
            "could not resolve host",
            "connection refused",
            "connection timed out",
            "network is unreachable",
            "failed to connect",
            "couldn't connect",
            "operation timed out",
            "no route to host",
        )
    ):
        return "the remote cannot be reached."
    if any(
        s in low
        for s in (
            "does not appear to be a git repository",
            "repository not found",
            "not a git repository",
            "no such file or directory",
            "http 404",
            "error: 404",
        )
    ):
        return "there is no git repository at that address."
    if "unsupported protocol" in low or "unable to find remote helper" in low:
        return "git cannot fetch from that kind of address."
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "git failed"
    return re.sub(r"^(fatal|error):\s*", "", last).rstrip(".") + "."


def fetch(spec: SourceSpec, cache: Path, limits: Limits) -> str:
    """Fetch the source's branch (one commit deep) into its cache repository; returns the commit."""
    env, secrets = _environment(spec)
    what = f"Source {spec.name} could not be fetched from {spec.shown_url}"
    if not (cache / "HEAD").exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        _run(["init", "--bare", "--quiet", str(cache)], env, secrets, limits.timeout, what)
    ref = spec.branch or "HEAD"
    _run(
        ["fetch", "--depth", "1", "--no-tags", "--quiet", "--no-write-fetch-head", spec.git, f"+{ref}:refs/bot/fetched"]
        if ref != "HEAD"
        else ["fetch", "--depth", "1", "--no-tags", "--quiet", spec.git, "HEAD"],
        env,
        secrets,
        limits.timeout,
        what,
        cwd=cache,
    )
    name = "refs/bot/fetched" if ref != "HEAD" else "FETCH_HEAD"
    commit = _run(["rev-parse", "--verify", f"{name}^{{commit}}"], env, secrets, limits.timeout, what, cwd=cache)
    commit = commit.strip()
    if ref == "HEAD":  # keep the commit reachable from a ref, so git's housekeeping never removes it
        _run(["update-ref", "refs/bot/fetched", commit], env, secrets, limits.timeout, what, cwd=cache)
    return commit


def check_tree(spec: SourceSpec, cache: Path, commit: str, limits: Limits) -> None:
    """Refuse a commit whose checkout would pass the limits or hold a symbolic link leading out of the repository."""
    env, secrets = _environment(spec)
    what = f"Source {spec.name} at {commit[:12]}"
    listing = _run(["ls-tree", "-r", "-l", "-z", "--full-tree", commit], env, secrets, limits.timeout, what, cwd=cache)
    files = 0
    size = 0
    links: list[tuple[str, str]] = []
    for entry in listing.split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        mode, kind, obj, length = meta.split()
        if kind != "blob":
            continue  # a submodule: not checked out
        files += 1
        size += int(length) if length.isdigit() else 0
        if mode == "120000":
            links.append((path, obj))
    if files > limits.files:
        raise SyncError(f"{what} has {files:,} files, more than the limit of {limits.files:,}; it was not checked out.")
    if size > limits.bytes:
        raise SyncError(
            f"{what} holds {size / 2**20:,.2f} MB of files, more than the limit of {limits.bytes / 2**20:.3g} MB; "
            "it was not checked out."
        )
    for path, obj in links:
        target = _run(["cat-file", "blob", obj], env, secrets, limits.timeout, what, cwd=cache)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise SyncError(
                f"{what} has a symbolic link, {path}, that leads out of the repository ({target}); it was not "
                "checked out."
            )


def check_out(spec: SourceSpec, cache: Path, commit: str, checkouts: Path, limits: Limits) -> Path:
    """Check the commit out into `checkouts/COMMIT` (written beside it, then renamed into place)."""
    env, secrets = _environment(spec)
    what = f"Source {spec.name} at {commit[:12]} could not be checked out"
    final = checkouts / commit
    if final.is_dir():
        return final
    checkouts.mkdir(parents=True, exist_ok=True)
    temporary = checkouts / f".tmp-{commit[:12]}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        env["GIT_INDEX_FILE"] = str(temporary.parent / f"{temporary.name}.index")
        _run(
            ["--git-dir", str(cache), "--work-tree", str(temporary), "checkout", "--force", commit, "--", "."],
            env,
            secrets,
            limits.timeout,
            what,
        )
        temporary.rename(final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    finally:
        Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
    return final


def check_text(spec: SourceSpec, root: Root) -> None:
    """Refuse a checkout one of whose documents is not UTF-8 text (the bot would have nothing to quote of it)."""
    for path in corpus_files(root.path):
        relative = path.relative_to(root.path).as_posix()
        if not root.selects(relative):
            continue
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SyncError(
                f"Source {spec.name} at {(root.commit or '')[:12]}: {relative} is not UTF-8 text (invalid byte at "
                f"offset {exc.start}); fix it in the repository or add it to the source's exclude."
            ) from None
        except OSError:
            continue


__all__ = ["MAX_BYTES", "MAX_FILES", "Limits", "SyncError", "check_out", "check_text", "check_tree", "fetch", "redact"]
