"""What a preflight check returns: a problem at a config key path, with the fix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stacks.config import NAMESPACE, StackConfig


@dataclass(frozen=True)
class Problem:
    path: str
    """Key path below the `leanrag:` namespace, e.g. serving.models[0].precision."""
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{NAMESPACE}:{self.path}: {self.message}\n    fix: {self.fix}"


class PreflightError(Exception):
    """Every problem of a stack's configuration, raised once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the stack configuration:\n{lines}")


Check = Callable[[StackConfig, frozenset[str]], Iterator[Problem]]
"""A preflight rule: (config, names of the secret keys that are set) -> its problems."""
