"""Execute a parameterised notebook with papermill, in this process.

The rules used to call papermill's command line and then ``linkseval finish``: two Python
processes per page, and papermill's own tracebacks on the console when the disk filled up.
``execute`` runs papermill's command line (its own parameter parsing, ``-p``/``-y``, unchanged)
inside ``linkseval notebook``, so that a full disk is one ``linkseval: error`` line like every
other command's and a failing cell is one line naming notebook, cell and exception (its
traceback goes to the log above it). ``execute_batch`` (``linkseval notebooks``) runs one
notebook for a batch of pages in one kernel, each page as from a kernel of its own.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from linkseval.errors import ConfigError, NotebookError

# papermill's fixed options: no progress bar in logs, the output notebook written once (at the
# end or at the failing cell), the project's kernel
KERNEL = "python3"
PAPERMILL_OPTIONS = ("-k", KERNEL, "--no-progress-bar", "--no-request-save-on-cell-execute")
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
        raise _cell_error(exc, notebook, output) from None


@dataclass(frozen=True)
class NotebookJob:
    """One page of a batch: the notebook's parameters and where its results go.

    ``notebook`` is the executed notebook (papermill writes ``partial`` first, see
    :data:`partial_path`), ``html`` its report page, ``title`` the page's title.
    """

    parameters: Mapping[str, Any]
    notebook: str
    html: str
    title: str

    @property
    def partial(self) -> str:
        """Where papermill writes the executed notebook before it is scrubbed into place."""
        return f"{self.notebook}.partial.ipynb"


_JOB_KEYS = {"parameters", "notebook", "html", "title"}


def parse_parameters(text: str) -> dict[str, Any]:
    """Parse ``--parameters``: a JSON object of notebook parameters (names as in the notebook)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--parameters is not JSON: {exc}") from None
    if not isinstance(value, dict) or not all(k.isidentifier() for k in value):
        raise ConfigError("--parameters must be a JSON object of parameter names")
    return value


def parse_jobs(text: str) -> list[NotebookJob]:
    """Parse ``--jobs``: a JSON list of {"parameters", "notebook", "html", "title"} objects.

    Every path must be new to the batch (two pages never share a file).
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--jobs is not JSON: {exc}") from None
    if not isinstance(value, list) or not value:
        raise ConfigError("--jobs must be a non-empty JSON list of pages")
    jobs = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != _JOB_KEYS:
            raise ConfigError(f"--jobs item {i}: expected the keys {sorted(_JOB_KEYS)}")
        texts = [item[k] for k in ("notebook", "html", "title")]
        if not all(isinstance(t, str) and t for t in texts):
            raise ConfigError(f"--jobs item {i}: notebook, html and title must be non-empty text")
        params = item["parameters"]
        if not isinstance(params, dict) or not all(k.isidentifier() for k in params):
            raise ConfigError(f"--jobs item {i}: parameters must be a JSON object of names")
        jobs.append(NotebookJob(params, *texts))
    paths = [p for job in jobs for p in (job.notebook, job.html)]
    if len(set(paths)) != len(paths):
        raise ConfigError("--jobs: two pages share a file")
    return jobs


# Run between two notebooks of a batch: a new IPython session (empty namespace, history and
# Out cache, execution counter back at 1), with the figures of the last notebook closed, so each
# notebook runs as in a kernel of its own; imported modules stay loaded (what a batch saves).
_RESET_SOURCE = (
    "import sys as _sys, warnings as _warnings\n"
    "if 'matplotlib.pyplot' in _sys.modules:\n"
    "    _sys.modules['matplotlib.pyplot'].close('all')\n"
    # a warning is shown once per place: forget where they were shown, so that the next page
    # shows its own (numpy's 'Mean of empty slice', ...) as a fresh kernel would
    "_warnings.onceregistry.clear()\n"
    "for _m in list(_sys.modules.values()):\n"
    "    try:\n"
    "        _m.__dict__.get('__warningregistry__', {}).clear()\n"
    "    except Exception:\n"
    "        pass\n"
    "get_ipython().reset(new_session=True)"
)


def execute_batch(
    template: str,
    jobs: Sequence[NotebookJob],
    shared: Mapping[str, Any],
    finish: Callable[[NotebookJob], None],
    progress: Callable[[str], None] | None = None,
) -> None:
    """Run ``template`` once per job in one kernel, calling ``finish(job)`` after each.

    Every job gets ``shared`` parameters updated with its own. One kernel serves the batch:
    papermill, the kernel's start and the notebook's imports are paid once instead of per page
    (about 2 s of the 3.3-4 s a page cost on its own). Between notebooks the kernel starts a new
    IPython session (:data:`_RESET_SOURCE`), so no name, output or figure of one notebook is seen
    by the next, a warning shown on one page is shown again on the next, and execution counts
    start at 1: the executed notebooks and pages are byte for byte those of a kernel per notebook
    (tested). A module's own state (e.g. an option a notebook sets, a warnings filter) stays for
    the next notebook; every notebook of a batch is the same template and sets the same state.

    Raises
    ------
    NotebookError
        A cell raised (its traceback goes to stderr first); the notebooks before it are finished.
    OSError
        ENOSPC when the disk is full.
    """
    say = progress or (lambda text: print(text, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="linkseval-kernel-") as ipc_dir:
        km, kc = _start_kernel(ipc_dir)
        try:
            _run_jobs(template, jobs, shared, finish, say, km, kc)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def _run_jobs(
    template: str,
    jobs: Sequence[NotebookJob],
    shared: Mapping[str, Any],
    finish: Callable[[NotebookJob], None],
    say: Callable[[str], None],
    km: Any,
    kc: Any,
) -> None:
    """Run the jobs of :func:`execute_batch` in the started kernel ``km``/``kc``."""
    import nbformat
    import papermill
    from nbclient import NotebookClient
    from papermill.engines import papermill_engines
    from papermill.exceptions import PapermillExecutionError

    papermill_engines.register(WARM_ENGINE, _warm_kernel_engine())
    reset = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_RESET_SOURCE)])
    for i, job in enumerate(jobs):
        say(f"[{i + 1}/{len(jobs)}] {job.notebook}")
        if i:  # a new session; not stored in history, so the next cell is In [1]
            client = NotebookClient(reset, km=km)
            client.kc = kc
            with client.setup_kernel():
                client.execute_cell(reset.cells[0], 0, store_history=False)
        try:
            papermill.execute_notebook(
                template,
                job.partial,
                parameters=dict(sorted({**shared, **job.parameters}.items())),  # by name
                engine_name=WARM_ENGINE,
                kernel_name=KERNEL,
                progress_bar=False,
                request_save_on_cell_execute=False,
                km=km,
                kc=kc,
            )
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT) and not exc.filename:
                raise OSError(exc.errno, exc.strerror, job.partial) from None
            raise
        except PapermillExecutionError as exc:
            raise _cell_error(exc, template, job.partial) from None
        finish(job)


WARM_ENGINE = "linkseval-warm-kernel"


def _warm_kernel_engine() -> type:
    """Return a papermill engine: its nbclient engine on a kernel and client already running.

    papermill hands ``km`` on to nbclient but no client, and nbclient then opens a client of its
    own per notebook and, not owning the kernel, never closes it. This engine gives every
    notebook the batch's one client ``kc`` (an engine is papermill's documented way to change
    how a notebook runs).
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: float | None = None,
            km: Any = None,
            kc: Any = None,
            **kwargs: Any,
        ) -> Any:
            client = PapermillNotebookClient(
                nb_man,
                km=km,
                log=logger,  # papermill's logger, as its own engine passes
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client.kc = kc
            return client.execute()

    return WarmKernelEngine


def _start_kernel(ipc_dir: str) -> tuple[Any, Any]:
    """Start a kernel and its client, talking over Unix sockets in ``ipc_dir``.

    Not TCP: jupyter_client picks free TCP ports and releases them before the kernel binds them,
    so two jobs starting kernels at once can collide (:data:`KERNEL_DIED`); socket files in a
    folder of the job's own cannot.
    """
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=KERNEL, transport="ipc", ip=os.path.join(ipc_dir, "kernel"))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
    except BaseException:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


def _cell_error(exc: Any, notebook: str, output: str) -> Exception:
    """Turn papermill's PapermillExecutionError ``exc`` into the error ``execute`` raises."""
    if any(text in str(exc.evalue) for text in _DISK_FULL_TEXT):
        return OSError(errno.ENOSPC, "No space left on device", output)
    print(_ANSI.sub("", "\n".join(exc.traceback)), file=sys.stderr)
    return NotebookError(
        f"{notebook}: cell In [{exc.exec_count}] raised {exc.ename}: {exc.evalue} "
        f"(its traceback is above; the executed notebook is {output})"
    )
