"""Execute a parameterised notebook with papermill, in this process.

The rules used to call papermill's command line and then ``linkseval finish``: two Python
processes per page, and papermill's own tracebacks on the console when the disk filled up.
``execute`` runs papermill's command line (its own parameter parsing, ``-p``/``-y``, unchanged)
inside ``linkseval notebook``, so that a full disk is one ``linkseval: error`` line like every
other command's and a failing cell is one line naming notebook, cell and exception (its
traceback goes to the log above it).
"""

from __future__ import annotations

import errno
import re
import sys
from collections.abc import Sequence

from linkseval.errors import NotebookError

# papermill's fixed options: no progress bar in logs, the output notebook written once (at the
# end or at the failing cell), the project's kernel
PAPERMILL_OPTIONS = ("-k", "python3", "--no-progress-bar", "--no-request-save-on-cell-execute")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded")
# jupyter_client picks free TCP ports and releases them before the kernel binds them: when two
# notebook jobs start kernels at once, one can lose its port ("Address already in use") and die
# before any cell ran. Nothing was executed or written, so the start is simply tried again.
KERNEL_DIED = "Kernel died before replying to kernel_info"
KERNEL_START_ATTEMPTS = 3


def execute(notebook: str, output: str, papermill_args: Sequence[str] = ()) -> None:
    """Run ``notebook`` into ``output`` with papermill's command-line ``papermill_args``.

    Raises
    ------
    NotebookError
        A cell raised (the cell's traceback, without colour codes, is written to stderr first).
    OSError
        ENOSPC when the disk is full, also when it was a cell that ran out of space.
    """
    from papermill.cli import papermill as papermill_cli
    from papermill.exceptions import PapermillExecutionError

    args = [notebook, output, *PAPERMILL_OPTIONS, *papermill_args]
    try:
        for attempt in range(KERNEL_START_ATTEMPTS):
            try:
                papermill_cli.main(args=args, prog_name="papermill", standalone_mode=False)
                break
            except RuntimeError as exc:  # the kernel died before running any cell
                if KERNEL_DIED not in str(exc) or attempt == KERNEL_START_ATTEMPTS - 1:
                    raise
                print(f"{notebook}: the kernel did not start ({exc}); starting it again",
                      file=sys.stderr)  # fmt: skip
    except OSError as exc:  # papermill's write of ``output`` does not name the file
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and not exc.filename:
            raise OSError(exc.errno, exc.strerror, output) from None
        raise
    except PapermillExecutionError as exc:
        if any(text in str(exc.evalue) for text in _DISK_FULL_TEXT):
            raise OSError(errno.ENOSPC, "No space left on device", output) from None
        print(_ANSI.sub("", "\n".join(exc.traceback)), file=sys.stderr)
        raise NotebookError(
            f"{notebook}: cell In [{exc.exec_count}] raised {exc.ename}: {exc.evalue} "
            f"(its traceback is above; the executed notebook is {output})"
        ) from None
