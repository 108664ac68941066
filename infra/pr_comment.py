"""One pull-request comment from the `--markdown` diffs of every stack (`python -m infra.plan S --diff BASE
--markdown .plan/S.diff.md`), kept under GitHub's comment size limit.

    python -m infra.pr_comment .plan/*.diff.md --out .plan/comment.md

The comment starts with `MARKER`, which the pull-request workflow looks for to update its own comment rather
than add one per push (and never touch another bot's, such as Pulumi's preview). Every stack keeps its headline
(changes and cost delta); when all of them in full would be too long, the stacks that come last are cut to that
headline, pointing at the plan artifact.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MARKER = "<!-- leanrag-offline-plan -->"
"""The first line of the comment: how the workflow finds it again."""
MAX_CHARS = 60_000
"""GitHub refuses comments over 65,536 characters."""
HEADLINE_LINES = 3
"""`infra.diff`'s markdown: the title, a blank line, the bold summary with the cost delta."""


def combine(sections: list[str], limit: int = MAX_CHARS) -> str:
    """The comment: the marker, then each stack's section in full while the whole fits in `limit`, the rest cut
    to their headline."""
    headlines = [
        "\n".join(s.splitlines()[:HEADLINE_LINES]) + "\n\n_Details: the offline-plans artifact._\n" for s in sections
    ]
    head = f"{MARKER}\n"
    size = len(head) + sum(len(h) + 1 for h in headlines)
    parts = []
    for section, headline in zip(sections, headlines, strict=True):
        grow = len(section) - len(headline)
        if size + grow <= limit:
            parts.append(section)
            size += grow
        else:
            parts.append(headline)
    return head + "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.pr_comment", description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="+", type=Path, help="the stacks' --markdown files, in order")
    parser.add_argument("--out", type=Path, default=None, help="write here (default: standard output)")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.sections if not p.is_file()]
    if missing:
        print(
            f"error: no such --markdown file: {', '.join(missing)} (run infra.plan with --diff first)", file=sys.stderr
        )
        return 2
    text = combine([p.read_text() for p in args.sections])
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
