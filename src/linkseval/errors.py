"""Typed errors users can act on. The CLI prints them without a traceback."""

from __future__ import annotations


class LinksevalError(Exception):
    """Base class for expected, user-actionable errors."""


class ExtractError(LinksevalError):
    """A structural problem in an input file: names the file and, where known, line and column."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file, self.line, self.column, self.reason = str(file), line, column, message
        where = [self.file]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")


class CodebookError(LinksevalError):
    """The codebook is inconsistent (unknown theme, duplicate item, bad scale...)."""


class ConfigError(LinksevalError):
    """A configuration value is invalid."""


class AccountingError(LinksevalError):
    """Rows in != rows kept + rows quarantined: a bug, never expected."""


class DisclosureError(LinksevalError):
    """A published output would disclose an identifier, free text or a small cell."""


class PageError(LinksevalError):
    """A report page would carry active content (script, event handlers, javascript: URLs)."""


class NotebookError(LinksevalError):
    """A notebook's cell raised: names the notebook, the cell and the exception."""
