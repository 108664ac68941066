"""What a preflight check returns: a problem at a config key path, with the fix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stacks.config import NAMESPACE, StackConfig


@dataclass(frozen=True)
class Problem:
    path: str
    """Key path below the namespace, e.g. serving.models[0].precision."""
    message: str
    fix: str
    namespace: str = NAMESPACE
    """The config namespace of the key: this program's (leanrag), or a provider's (aws:region); empty for a key of
    the stack file itself (outside `config:`)."""
    location: str = ""
    """Where the key is written, when known (the offline plan reads the stack file): Pulumi.dev.yaml:12."""

    @property
    def key(self) -> str:
        """The full config key path, e.g. leanrag:serving.models[0].precision or aws:region."""
        return f"{self.namespace}:{self.path}" if self.namespace else self.path

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.key}: {self.message}\n    fix: {self.fix}"


class PreflightError(Exception):
    """Every problem of a stack's configuration, raised once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the stack configuration:\n{lines}")


Check = Callable[[StackConfig, frozenset[str]], Iterator[Problem]]
"""A preflight rule: (config, names of the secret keys that are set) -> its problems."""
