"""The one error type the jobs' command lines report on one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: the message names the option or setting and what to do.

    Every job's CLI prints it as one log line and exits 2. Job-specific errors subclass it.
    """


class TransferError(UserError):
    """A copy failed part way (network, storage, hub): nothing was marked complete and a re-run resumes.

    CLIs print it on one line like any UserError but exit 1, not 2: the input was fine.
    """
