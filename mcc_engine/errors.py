"""The one error type that reaches users: a file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input named by file; the CLI prints it as one line and exits 2, the app shows a dialog."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path is not None else problem)


class Cancelled(Exception):
    """Raised inside long work when the caller's should-stop check says so: the one way work stops.

    `kept` is what the work kept before it stopped (a training run's result with its last.pt, the
    number of proposals saved), or None where it keeps nothing.
    """

    def __init__(self, message: str = "stopped", *, kept: object = None) -> None:
        super().__init__(message)
        self.kept = kept
