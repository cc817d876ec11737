"""Section anchors as GitHub and GitLab render them, from the headings a parsed document keeps."""

from __future__ import annotations

from pathlib import Path

from bot.anchors import GITLAB, anchors, repository_page, slug
from bot.documents import parse_markdown
from bot.index.roots import Root, link_of, set_page


def test_slugs_of_headings_with_punctuation_code_and_emoji():
    assert slug("Squash commits") == "squash-commits"
    assert slug("What's a PR? (and why!)") == "whats-a-pr-and-why"
    assert slug("Step 1: Fork & clone") == "step-1-fork--clone"  # GitHub keeps both hyphens around a removed "&"
    assert slug("Step 1: Fork & clone", GITLAB) == "step-1-fork-clone"
    assert slug("Use `kubectl apply -f`") == "use-kubectl-apply--f"
    assert slug("🚀 Getting started") == "-getting-started"  # the emoji goes, its space stays
    assert slug(":rocket: Launch") == "rocket-launch"  # a shortcode is text in the Markdown
    assert slug("Über die Gemeinschaft") == "über-die-gemeinschaft"
    assert slug("snake_case and kebab-case") == "snake_case-and-kebab-case"


def test_repeated_headings_are_numbered_in_order():
    assert anchors(["Notes", "Setup", "Notes", "notes!", "Notes 1"]) == [
        "notes",
        "setup",
        "notes-1",
        "notes-2",
        "notes-1-1",  # "notes-1" is taken by the second Notes
    ]


def test_a_documents_paragraphs_link_to_the_heading_they_are_under():
    doc = parse_markdown(
        "# Guide\n\nIntro words that come before any section of the guide.\n\n"
        "## Using `git rebase -i` 🎉\n\nAn interactive rebase lets you squash your commits together.\n\n"
        "## FAQ\n\nThe first list of frequently asked questions is here for you.\n\n"
        "### [Links only](https://example.org)\n\nA heading made only of a link still has an anchor here.\n\n"
        "## FAQ\n\nThe second list of frequently asked questions is here for you.\n",
        "guide.md",
    )
    assert doc.headings == ("Guide", "Using git rebase -i 🎉", "FAQ", "Links only", "FAQ")
    record = {"name": "docs/guide.md", "url": None, "headings": list(doc.headings)}
    set_page(record, Root("docs", Path("/checkout"), link="https://github.com/o/r/blob/main/{path}"))
    page = "https://github.com/o/r/blob/main/guide.md"
    links = {p.text.split()[0]: link_of(record, p.heading) for p in doc.paragraphs}
    assert links == {
        "Intro": page,  # under the title: the top of the page
        "An": page + "#using-git-rebase--i-",
        "The": page + "#faq-1",
        "A": page + "#links-only",
    }
    assert [link_of(record, p.heading) for p in doc.paragraphs if p.text.startswith("The")] == [
        page + "#faq",
        page + "#faq-1",
    ]
    # front matter's url wins; a document without a page has no link
    assert link_of({**record, "url": "https://example.org/guide"}, 2) == "https://example.org/guide"
    assert link_of({"name": "guide.md", "headings": list(doc.headings)}, 2) is None


def test_pages_of_hosted_repositories():
    assert repository_page("https://github.com/kubernetes/community.git", "master") == (
        "https://github.com/kubernetes/community/blob/master/{path}"
    )
    assert repository_page("git@github.com:kubernetes/community.git", "main") == (
        "https://github.com/kubernetes/community/blob/main/{path}"
    )
    assert repository_page("https://gitlab.com/group/sub/docs", "main") == (
        "https://gitlab.com/group/sub/docs/-/blob/main/{path}"
    )
    assert repository_page("https://git.example.org/docs.git", "main") is None
    assert repository_page("/srv/git/docs.git", "main") is None
    record = {"name": "lab/a b.md", "headings": ["Q & A"]}
    set_page(record, Root("lab", Path("/x"), link="https://gitlab.com/g/docs/-/blob/main/{path}"))
    assert link_of(record, 0) == "https://gitlab.com/g/docs/-/blob/main/a%20b.md#q-a"
