"""`python -m bot teach ...`: moderators' lessons from the command line, through the same AnswerService (and so the
same LessonBook) as /teach."""

from __future__ import annotations

import argparse
import json
import time

from bot.cli.commands import _load, _service
from bot.cli.common import UsageError, _with_paths
from bot.cli.corpus import cli_actor
from bot.config import Settings
from bot.lessons import Lesson, LessonBook


def _teach_parser(commands: argparse._SubParsersAction) -> None:
    help_text = "Teach the answer to a question (a passage, or none), list the lessons, or remove one."
    teach = _with_paths(commands.add_parser("teach", help=help_text, description=help_text))
    teach.add_argument("question", nargs="?", metavar="QUESTION", help="the question, in one wording")
    teach.add_argument("--quote", metavar="TEXT", help="a phrase of the passage that answers it")
    teach.add_argument("--no-answer", action="store_true", help="the documents do not answer it: decline it")
    teach.add_argument("--list", action="store_true", help="list the lessons (flagged: the passage is gone)")
    teach.add_argument("--json", action="store_true", help="with --list: one JSON array")
    teach.add_argument("--remove", type=int, metavar="ID", help="remove a lesson")
    teach.add_argument("--history", action="store_true", help="who taught and removed what, newest first")
    teach.set_defaults(func=cmd_teach)


def cmd_teach(args: argparse.Namespace, settings: Settings) -> int:
    teaching = args.quote is not None or args.no_answer
    actions = [teaching, args.list, args.remove is not None, args.history]
    if sum(actions) != 1:
        raise UsageError("give one of: QUESTION --quote TEXT, QUESTION --no-answer, --list, --remove ID, --history")
    if args.quote is not None and args.no_answer:
        raise UsageError("--quote and --no-answer cannot go together")
    if teaching and not (args.question or "").strip():
        raise UsageError('give the question to teach, e.g. teach "how do I start?" --quote "find something"')
    if not teaching and args.question is not None:
        raise UsageError("a QUESTION goes with --quote or --no-answer")
    if args.json and not args.list:
        raise UsageError("--json goes with --list")
    book = LessonBook(settings.database)
    service = _service(args, settings, book)  # loaded only when a passage is looked for or checked
    try:
        if args.history:
            entries = service.lesson_history(50)
            print(
                "\n".join(f"{_when(e.at)}  {e.actor}  {e.action} #{e.lesson}  {e.detail}" for e in entries)
                or "No lessons taught yet."
            )
            return 0
        if args.remove is not None:
            lesson = service.remove_lesson(args.remove, cli_actor())
            print(f"Removed lesson #{lesson.id}: “{lesson.question}”.")
            return 0
        if args.no_answer:
            lesson = service.teach_no_answer(args.question, cli_actor())
            print(f"Taught lesson #{lesson.id}: “{lesson.question}” → no answer in the documents.")
            return 0
        _load(service, settings)
        if args.list:
            lessons, flagged = service.lessons()
            if args.json:
                print(json.dumps([lesson.to_json(lesson.id in flagged) for lesson in lessons], ensure_ascii=False))
            else:
                print("\n".join(describe(lesson, lesson.id in flagged) for lesson in lessons) or "No lessons yet.")
            return 0
        lesson = service.teach(args.question, cli_actor(), args.quote)
        print(f"Taught lesson #{lesson.id}: “{lesson.question}” → {lesson.document}: “{lesson.passage}”")
        return 0
    finally:
        book.close()


def describe(lesson: Lesson, flagged: bool) -> str:
    answer = f"{lesson.document}: “{_clip(lesson.passage or '')}”" if lesson.passage else "no answer in the documents"
    mark = "  [FLAGGED: the document no longer holds this text; not applied]" if flagged else ""
    return f"#{lesson.id}  “{lesson.question}” → {answer}  ({lesson.actor}, {_when(lesson.taught_at)}){mark}"


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))
