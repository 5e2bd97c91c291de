"""What a practice code may be.

The study's configured format, and the characters any code must keep to because it names files,
reaches a command line and is printed on a page.

The register is the only source of the codes that do (the Links practices' report pages,
``results/report/practice_<code>.html``); it is checked here when it is read, so a hostile code
stops the run with one line naming file, line and column before any path or command is built.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from linkseval.errors import ConfigError, ExtractError
from linkseval.study import section_defaults

# the schema's default: a Scottish GP practice code, five digits
DEFAULT_PATTERN = section_defaults("cleaning", "practice_code_pattern")
# Whatever the configured pattern allows, a code must also be this (the workflow checks it again
# where it builds page paths: linkseval.report.site.checked_codes): letters, digits, '-' and
# '_', starting with a letter or digit (no option-like '-x'), at most 32 characters. No '/',
# '.', quote, space, '$'.
SAFE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}"
_SAFE = re.compile(SAFE)
KEY = "cleaning.practice_code_pattern"


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile the configured pattern as a regex, or raise a :class:`ConfigError` naming the key."""
    try:
        return re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise ConfigError(f"{KEY} {pattern!r} is not a regular expression: {exc}") from None


def code_problem(code: str, pattern: re.Pattern[str]) -> str | None:
    """Why ``code`` (already normalised) is not a valid practice code, or None if it is.

    The whole code must match (``re.fullmatch``: a '$' does not let a trailing newline through).
    """
    shown = repr(code[:50]) + ("..." if len(code) > 50 else "")
    if not pattern.fullmatch(code):
        return f"practice code {shown} does not match {KEY} {pattern.pattern!r}"
    if not _SAFE.fullmatch(code):
        return (
            f"practice code {shown} may hold only letters, digits, '-' and '_' (at most 32, "
            "starting with a letter or digit): codes name report files"
        )
    return None


def check_codes(codes: pd.Series, lines: pd.Series, path: Path, pattern: str) -> None:
    """Raise an :class:`ExtractError` (file, line, column) for the first invalid code."""
    regex = compile_pattern(pattern)
    for code, line in zip(codes.tolist(), lines.tolist(), strict=True):
        problem = code_problem(str(code), regex)
        if problem is not None:
            raise ExtractError(path, problem, line=int(line), column="practice_code")
