"""Sources: git repositories listed in sources.toml, synced with the real git from local repositories (git init,
bare remotes, file:// URLs, a loopback HTTP server), into a real index built with the real model."""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from bot.index import Root, build_index, current_build, load_index, read_manifest, roots_of
from bot.retrieval import Retriever
from bot.sources import Limits, SourcesError, SourceSpec, SourcesSetup, load_sources, sync_sources
from tests.test_cli import run
from tests.test_incremental import CountingEncoder, assert_same_index

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}

DOCS = {
    "guide/squash.md": (
        "# Git workflow\n\n## Squash commits\n\nTo squash your commits, perform an interactive rebase against the "
        "main branch and mark the extra commits as fixups. Reviewers ask for squashed commits before merging.\n\n"
        "## Squash commits\n\nA second section with the same heading explains when a maintainer squashes the "
        "commits for you while merging the pull request.\n"
    ),
    "guide/reviews.md": (
        "# Code reviews\n\n## Who reviews my pull request?\n\nThe owners of the files you changed review your "
        "pull request; the bot assigns them from the OWNERS file automatically.\n"
    ),
    "guide/meetings.md": (
        "# Meetings\n\n## When does the community meet?\n\nThe community meeting happens every Thursday at 5pm "
        "UTC on Zoom, and anyone may join and listen.\n"
    ),
    "README.md": (
        "---\nurl: https://example.org/welcome\n---\n\n# Welcome\n\n## Start here\n\nWelcome to the project's "
        "documents for new contributors; read the contributor guide to begin your journey.\n"
    ),
    "archive/old.md": "# Old\n\n## Retired\n\nThe retired mailing list was shut down years ago and is kept here.\n",
    "drafts/wip.md": "# Draft\n\n## Unfinished\n\nThis unfinished draft about release shadows is not ready yet.\n",
    ".botignore": "drafts/\n",
    "logo.png": "not really an image, and not a document",
}


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


class Remote:
    """A bare repository (the remote) and a working clone that commits and pushes to it."""

    def __init__(self, base: Path, files: dict[str, str], branch: str = "master") -> None:
        self.bare = base / "remote.git"
        self.work = base / "work"
        self.branch = branch
        git("init", "--quiet", "--bare", "-b", branch, str(self.bare))
        git("init", "--quiet", "-b", branch, str(self.work))
        self.commit(files)

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(
        self,
        write: dict[str, str | bytes] | None = None,
        delete: tuple[str, ...] = (),
        rename: dict[str, str] | None = None,
        force: bool = False,
    ) -> str:
        for name, content in (write or {}).items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        for name in delete:
            git("rm", "--quiet", name, cwd=self.work)
        for old, new in (rename or {}).items():
            (self.work / new).parent.mkdir(parents=True, exist_ok=True)
            git("mv", old, new, cwd=self.work)
        git("add", "--all", cwd=self.work)
        if force:
            git("commit", "--quiet", "--amend", "-m", "rewritten", cwd=self.work)
        else:
            git("commit", "--quiet", "--allow-empty", "-m", "change", cwd=self.work)
        git("push", "--quiet", *(["--force"] if force else []), str(self.bare), self.branch, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def symlink(self, name: str, target: str) -> str:
        (self.work / name).symlink_to(target)
        return self.commit()


def setup_for(tmp_path: Path, *specs: SourceSpec, limits: Limits | None = None) -> SourcesSetup:
    return SourcesSetup(tuple(specs), tmp_path / "data" / "sources", limits or Limits())


def community(remote: Remote, **changes: object) -> SourceSpec:
    fields: dict[str, object] = {
        "name": "community",
        "git": remote.url,
        "branch": remote.branch,
        "exclude": ("archive/**",),
        "link": "https://github.com/kubernetes/community/blob/master/{path}",
    }
    fields.update(changes)
    return SourceSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "git", dict(DOCS))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """corpus/ as a moderator keeps it: one upload with no link."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "faq.md").write_text(
        "---\ntitle: Uploaded FAQ\n---\n\n## Mentoring\n\nThe mentoring programme pairs every newcomer with an "
        "experienced contributor for their first three months.\n"
    )
    return corpus


def answer_url(index_dir: Path, encoder: object, question: str) -> tuple[str, str | None]:
    result = Retriever(load_index(index_dir), encoder).answer(question, k=1).results[0]  # type: ignore[arg-type]
    return result.document, result.url


def test_first_sync_indexes_the_selected_documents_and_links_each_quote_to_its_section(
    tmp_path: Path, remote: Remote, corpus: Path, fast_encoder
):
    index_dir = tmp_path / "index"
    report = sync_sources(setup_for(tmp_path, community(remote)), corpus, index_dir, fast_encoder)
    head = git("rev-parse", "HEAD", cwd=remote.work)
    (result,) = report.results
    assert (result.commit, result.previous, result.error) == (head, None, None)
    # every .md except the excluded archive and the .botignore'd drafts; the image is no document
    assert result.added == ["community/README.md", "community/guide/meetings.md", "community/guide/reviews.md",
                            "community/guide/squash.md"]  # fmt: skip
    index = load_index(index_dir)
    assert sorted(d["name"] for d in index.documents) == ["community/README.md", *result.added[1:], "faq.md"]
    assert index.manifest["sources"][0]["commit"] == head
    page = "https://github.com/kubernetes/community/blob/master/guide/"
    assert answer_url(index_dir, fast_encoder, "how do I squash my commits before merging?") == (
        "community/guide/squash.md",
        page + "squash.md#squash-commits",
    )
    # the repeated heading's anchor is numbered as GitHub numbers it
    assert answer_url(index_dir, fast_encoder, "will a maintainer squash the commits for me while merging?") == (
        "community/guide/squash.md",
        page + "squash.md#squash-commits-1",
    )
    assert answer_url(index_dir, fast_encoder, "who reviews my pull request?")[1] == (
        page + "reviews.md#who-reviews-my-pull-request"
    )
    # front matter's url wins; an upload to corpus/ has no link
    assert answer_url(index_dir, fast_encoder, "where do new contributors start reading?")[1] == (
        "https://example.org/welcome"
    )
    assert answer_url(index_dir, fast_encoder, "is there a mentoring programme for newcomers?") == ("faq.md", None)
    state = json.loads((tmp_path / "data" / "sources" / "state.json").read_text())
    assert state["sources"]["community"]["commit"] == head and state["sources"]["community"]["synced_at"]


def test_the_index_follows_the_remote_and_embeds_only_what_changed(
    tmp_path: Path, remote: Remote, corpus: Path, fast_encoder
):
    index_dir = tmp_path / "index"
    setup = setup_for(tmp_path, community(remote))
    first = sync_sources(setup, corpus, index_dir, fast_encoder).results[0].commit
    unchanged = sync_sources(setup, corpus, index_dir, fast_encoder)
    assert unchanged.build is None and unchanged.results[0].commit == first  # nothing moved: no build at all
    edited = DOCS["guide/meetings.md"].replace("every Thursday at 5pm", "every other Tuesday at 4pm")
    head = remote.commit(
        write={
            "guide/meetings.md": edited,
            "guide/labels.md": "# Labels\n\n## Good first issues\n\nIssues labelled good first issue are small "
            "tasks picked for newcomers, with a mentor named in the issue.\n",
        },
        delete=("guide/reviews.md",),
        rename={"README.md": "WELCOME.md"},
    )
    counting = CountingEncoder(fast_encoder)
    report = sync_sources(setup, corpus, index_dir, counting)
    (result,) = report.results
    assert (result.previous, result.commit) == (first, head)
    assert result.added == ["community/WELCOME.md", "community/guide/labels.md"]
    assert result.changed == ["community/guide/meetings.md"]
    assert result.removed == ["community/README.md", "community/guide/reviews.md"]
    assert report.build is not None and report.build.embedded_documents == 3  # edited, added, renamed
    embedded = " ".join(counting.texts)
    assert "Tuesday" in embedded and "good first issue" in embedded and "Welcome to the project" in embedded
    assert "interactive rebase" not in embedded and "Thursday" not in embedded  # unchanged and gone: not embedded
    assert answer_url(index_dir, fast_encoder, "when does the community meet?")[1].endswith(
        "guide/meetings.md#when-does-the-community-meet"
    )
    assert "Tuesday" in Retriever(load_index(index_dir), fast_encoder).answer("when is the meeting?").results[0].quote
    # the incremental result is exactly what a full build of the same checkouts gives
    full_dir = tmp_path / "full"
    build_index(corpus, full_dir, fast_encoder, reuse=False, sources=roots_of(load_index(index_dir).manifest))
    assert_same_index(index_dir, full_dir)
    # the previous commit's checkout is gone once the new one serves
    checkouts = tmp_path / "data" / "sources" / "community" / "checkouts"
    assert [p.name for p in checkouts.iterdir()] == [head]


def served(index_dir: Path) -> tuple[str, str | None]:
    build = current_build(index_dir)
    assert build is not None
    return build.name, read_manifest(build)["sources"][0]["commit"]


def faulty_sync(tmp_path: Path, corpus: Path, spec: SourceSpec, encoder: object, limits: Limits | None = None) -> str:
    """Sync a faulty source over a good index; the one sentence it gives, after checking nothing changed."""
    index_dir = tmp_path / "index"
    before = served(index_dir)
    checkouts = sorted((tmp_path / "data" / "sources" / "community" / "checkouts").iterdir())
    report = sync_sources(setup_for(tmp_path, spec, limits=limits), corpus, index_dir, encoder)
    assert served(index_dir) == before  # the same build, reading the same commit
    assert sorted((tmp_path / "data" / "sources" / "community" / "checkouts").iterdir()) == checkouts
    (error,) = report.errors
    assert error.endswith(f"It keeps serving commit {before[1][:12]}.")
    assert "\n" not in error and "Traceback" not in error
    state = json.loads((tmp_path / "data" / "sources" / "state.json").read_text())["sources"]["community"]
    assert state["commit"] == before[1] and state["error"] == error
    assert answer_url(index_dir, encoder, "how do I squash my commits?")[0] == "community/guide/squash.md"
    return error


@pytest.fixture
def synced(tmp_path: Path, remote: Remote, corpus: Path, fast_encoder) -> Remote:
    sync_sources(setup_for(tmp_path, community(remote)), corpus, tmp_path / "index", fast_encoder)
    return remote


def test_an_unreachable_remote_a_bad_url_or_branch_keep_the_previous_commit(
    tmp_path: Path, synced: Remote, corpus: Path, fast_encoder
):
    error = faulty_sync(tmp_path, corpus, community(synced, git="http://127.0.0.1:9/community.git"), fast_encoder)
    assert "could not be fetched from http://127.0.0.1:9/community.git: the remote cannot be reached" in error
    error = faulty_sync(tmp_path, corpus, community(synced, git=(tmp_path / "nowhere").as_uri()), fast_encoder)
    assert "there is no git repository at that address" in error
    error = faulty_sync(tmp_path, corpus, community(synced, branch="no-such-branch"), fast_encoder)
    assert "the remote has no such branch" in error


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A git host that refuses everyone, noting the Authorization headers it was sent."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization"))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_host() -> Iterator[str]:
    _Refusing.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/private.git"
    server.shutdown()
    server.server_close()


def test_failed_authentication_keeps_the_previous_commit_and_never_shows_the_token(
    tmp_path: Path, synced: Remote, corpus: Path, fast_encoder, refusing_host: str, monkeypatch
):
    token = "ghp_secretTOKEN123"
    monkeypatch.setenv("COMMUNITY_TOKEN", token)
    url = refusing_host.replace("http://", "http://someone:hunter2@")
    error = faulty_sync(tmp_path, corpus, community(synced, git=url, token_env="COMMUNITY_TOKEN"), fast_encoder)
    assert "the remote refused access (authentication failed" in error
    # the token went to the host as a header, from the environment; it is in no message, URL or file
    expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert expected in _Refusing.seen
    assert token not in error and "hunter2" not in error and "***@127.0.0.1" in error
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert token.encode() not in data and b"hunter2" not in data, path


def test_a_force_pushed_branch_is_followed(tmp_path: Path, synced: Remote, corpus: Path, fast_encoder):
    index_dir = tmp_path / "index"
    before = served(index_dir)[1]
    head = synced.commit(delete=("guide/meetings.md",), force=True)  # the last commit rewritten without a file
    report = sync_sources(setup_for(tmp_path, community(synced)), corpus, index_dir, fast_encoder)
    (result,) = report.results
    assert result.error is None and (result.previous, result.commit) == (before, head)
    assert result.removed == ["community/guide/meetings.md"]
    assert "community/guide/meetings.md" not in {d["name"] for d in load_index(index_dir).documents}


def test_a_repository_over_the_limits_is_not_checked_out(tmp_path: Path, synced: Remote, corpus: Path, fast_encoder):
    extra = {f"guide/extra-{n}.md": f"# Extra {n}\n\nA page of extra words number {n}.\n" for n in range(3)}
    synced.commit(write=dict(extra))
    error = faulty_sync(tmp_path, corpus, community(synced), fast_encoder, Limits(files=10))
    assert "has 11 files, more than the limit of 10; it was not checked out" in error
    error = faulty_sync(tmp_path, corpus, community(synced), fast_encoder, Limits(bytes=1000))
    assert "MB of files, more than the limit of 0.000954 MB" in error


def test_a_symlink_leaving_the_repository_is_refused(tmp_path: Path, synced: Remote, corpus: Path, fast_encoder):
    synced.symlink("guide/passwords.md", "../../../../etc/passwd")
    error = faulty_sync(tmp_path, corpus, community(synced), fast_encoder)
    assert "has a symbolic link, guide/passwords.md, that leads out of the repository" in error


def test_a_file_that_is_not_utf8_is_refused_until_excluded(tmp_path: Path, synced: Remote, corpus: Path, fast_encoder):
    latin1 = "# Caf\xe9\n\nUn caf\xe9 cr\xe8me, s'il vous pla\xeet.\n".encode("latin-1")
    head = synced.commit(write={"guide/latin1.md": latin1})
    error = faulty_sync(tmp_path, corpus, community(synced), fast_encoder)
    assert "guide/latin1.md is not UTF-8 text (invalid byte at offset 5)" in error and "exclude" in error
    spec = community(synced, exclude=("archive/**", "guide/latin1.md"))
    report = sync_sources(setup_for(tmp_path, spec), corpus, tmp_path / "index", fast_encoder)
    assert report.errors == [] and report.results[0].commit == head


def test_a_source_removed_from_the_file_leaves_the_index(tmp_path: Path, synced: Remote, corpus: Path, fast_encoder):
    index_dir = tmp_path / "index"
    report = sync_sources(setup_for(tmp_path), corpus, index_dir, fast_encoder)
    (result,) = report.results
    assert result.removed_source and "community/guide/squash.md" in result.removed
    index = load_index(index_dir)
    assert [d["name"] for d in index.documents] == ["faq.md"] and index.manifest["sources"] == []
    assert not (tmp_path / "data" / "sources" / "community").exists()
    assert "community" not in json.loads((tmp_path / "data" / "sources" / "state.json").read_text())["sources"]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[[source]]\nname = "a"\ngit = "/x"\nbranh = "main"\n', 4, "unknown key 'branh'"),
        ('[[source]]\nname = "a"\ngit = "/x"\n\n[[source]]\nname = "a"\ngit = "/y"\n', 6, "is used twice"),
        ('[[source]]\nname = "kubernetes/community"\ngit = "/x"\n', 2, "is not plain"),
        ('[[source]]\nname = "a"\ngit = "/x"\nlink = "https://example.org/page"\n', 4, "with {path}"),
        ('[[source]]\nname = "a"\ngit = "/x"\nauthority = "top"\n', 4, "'authority' must be one of"),
        ('title = "docs"\n[[source]]\nname = "a"\ngit = "/x"\n', 1, "unknown key 'title'"),
        ('[[source]]\nname = "a"\ngit = "/x"\ninclude = "docs/**"\n', 4, "must be a list of glob patterns"),
        ('[[source]]\nname = "a"\n', 1, "has no 'git'"),
    ],
)
def test_a_bad_sources_file_is_refused_with_the_line_and_reason(tmp_path: Path, text: str, line: int, reason: str):
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    assert f"{path}, line {line}: " in str(caught.value) and reason in str(caught.value)


def test_the_sources_file_defaults_links_and_resolves_local_paths(tmp_path: Path):
    path = tmp_path / "sources.toml"
    path.write_text(
        '[[source]]\nname = "community"\ngit = "https://github.com/kubernetes/community.git"\nbranch = "master"\n'
        'authority = "high"\n\n[[source]]\nname = "lab"\ngit = "git@gitlab.com:group/docs.git"\n\n'
        '[[source]]\nname = "local"\ngit = "repos/docs"\n'
    )
    assert load_sources(tmp_path / "absent.toml") == []
    github, gitlab, local = load_sources(path)
    assert github.link == "https://github.com/kubernetes/community/blob/master/{path}" and github.authority == 1.5
    assert gitlab.link == "https://gitlab.com/group/docs/-/blob/HEAD/{path}"
    assert local.link is None and local.git == str(tmp_path / "repos" / "docs")


def test_the_command_line_syncs_lists_and_refuses_with_one_sentence(tmp_path: Path, remote: Remote, corpus: Path):
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "community"\ngit = "{remote.url}"\nexclude = ["archive/**"]\n'
        'link = "https://github.com/kubernetes/community/blob/master/{path}"\n'
    )
    env = {"SOURCES_FILE": str(sources), "SOURCES_DIR": str(tmp_path / "data")}
    paths = ("--corpus", str(corpus), "--index", str(tmp_path / "index"))
    synced = run("sources", "sync", *paths, env=env)
    assert synced.returncode == 0, synced.stderr
    head = git("rev-parse", "HEAD", cwd=remote.work)
    assert f"community: commit {head[:12]} (first sync); 4 added, 0 changed, 0 removed." in synced.stdout
    assert "  A community/guide/squash.md" in synced.stdout
    asked = run("ask", *paths, "--json", "-k", "1", "how do I squash my commits?", env=env)
    (result,) = json.loads(asked.stdout)["results"]
    assert result["url"] == "https://github.com/kubernetes/community/blob/master/guide/squash.md#squash-commits"
    printed = run("ask", *paths, "-k", "1", "how do I squash my commits?", env=env)
    assert "https://github.com/kubernetes/community/blob/master/guide/squash.md#squash-commits" in printed.stdout
    listed = json.loads(run("sources", "list", *paths, "--json", env=env).stdout)
    assert [(r["name"], r["commit"], r["documents"]) for r in listed] == [("community", head, 4)]
    assert listed[0]["synced_at"]
    # a bad branch: one sentence, exit status 2, the index as it was
    build = current_build(tmp_path / "index")
    sources.write_text(sources.read_text() + 'branch = "nope"\n')
    failed = run("sources", "sync", *paths, env=env)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert "the remote has no such branch" in failed.stdout
    assert "error: 1 of 1 sources could not be synced" in failed.stderr
    assert current_build(tmp_path / "index") == build
    # a bad sources file: refused before anything runs
    sources.write_text('[[source]]\nname = "a b"\ngit = "/x"\n')
    refused = run("sources", "list", *paths, env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        f"error: {sources}, line 2: source name 'a b' is not plain: use letters, digits, '-', '_' or '.' "
        "(no '/' or spaces)."
    )


def test_the_sources_settings_and_their_bad_values():
    from bot.config import PROJECT_ROOT, ConfigError, Settings

    defaults = Settings.from_env({})
    assert defaults.sources_file == PROJECT_ROOT / "sources.toml"
    assert defaults.sources_dir == PROJECT_ROOT / "data" / "sources"
    assert (defaults.sources_refresh_minutes, defaults.sources_max_files) == (0.0, 20_000)
    assert defaults.sources_max_bytes == 200 * 1024 * 1024
    chosen = Settings.from_env({"SOURCES_REFRESH_MINUTES": "30", "SOURCES_MAX_MB": "5", "SOURCES_FILE": "/etc/s.toml"})
    assert (chosen.sources_refresh_minutes, chosen.sources_max_bytes) == (30.0, 5 * 1024 * 1024)
    assert chosen.sources_file == Path("/etc/s.toml")
    with pytest.raises(ConfigError, match="SOURCES_REFRESH_MINUTES must be a number, not 'hourly'"):
        Settings.from_env({"SOURCES_REFRESH_MINUTES": "hourly"})


def test_links_inside_a_quote_keep_absolute_targets_and_json_stays_plain(tmp_path: Path, fast_encoder):
    checkout = tmp_path / "checkout"
    (checkout / "guide").mkdir(parents=True)
    (checkout / "guide" / "cla.md").write_text(
        "# The CLA\n\n## Signing\n\nBefore your first pull request, read [the guide](../README.md), sign the "
        "[CLA](https://cla.example.org/sign), see [below](#after-signing) and [the checks](/docs/checks) and "
        "[ask us](mailto:help@example.org) or [a local path](C:notes).\n\n## After signing\n\nThe robot adds the "
        "cncf-cla: yes label to your pull request within an hour.\n"
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    root = Root("community", checkout, link="https://github.com/kubernetes/community/blob/master/{path}")
    build_index(corpus, tmp_path / "index", fast_encoder, sources=[root])
    retriever = Retriever(load_index(tmp_path / "index"), fast_encoder)
    result = retriever.answer("what must I sign before my first pull request?").results[0]
    assert result.quote.startswith("Before your first pull request, read the guide, sign the CLA, see below")
    page = "https://github.com/kubernetes/community/blob/master/guide/cla.md"
    assert [(result.quote[a:b], target) for a, b, target in result.links] == [
        ("the guide", "https://github.com/kubernetes/community/blob/master/README.md"),
        ("CLA", "https://cla.example.org/sign"),
        ("below", page + "#after-signing"),
        ("the checks", "https://github.com/docs/checks"),
        ("ask us", "mailto:help@example.org"),
    ]  # "a local path" (C:notes) cannot be made a web address: it stays text
    assert result.url == page + "#signing"
    assert "](" not in json.dumps(result.to_json())  # --json: the quote as plain text
    # a document with no page: a relative link cannot be made absolute, so only the absolute ones are kept
    build_index(corpus, tmp_path / "other", fast_encoder, sources=[Root("community", checkout)])
    other_retriever = Retriever(load_index(tmp_path / "other"), fast_encoder)
    other = other_retriever.answer("what must I sign before my first pull request?")
    assert [target for _, _, target in other.results[0].links] == [
        "https://cla.example.org/sign",
        "mailto:help@example.org",
    ]
