"""Deterministic, atomic writes: same content -> same bytes; a crash never leaves a partial file."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas costs 0.35 s to import; text/JSON writers (every page job) need none
    import pandas as pd


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; move it into place if the block succeeds.

    Nothing is moved if the block raises; on success, temporaries of ``path`` left by a killed
    earlier write are removed too.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results should be readable like any file
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # a process killed mid-write (SIGKILL: no except clause runs) leaves its temporary file; the
    # next successful write of the same output removes it
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)


def _write(path: str | Path, writer: Callable[[Path], None]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_parquet(df: pd.DataFrame, path: str | Path, metadata: dict | None = None) -> Path:
    """Parquet without the index; ``metadata`` is stored as key/value pairs in the file schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta.update(
            {k.encode(): json.dumps(v, sort_keys=True).encode() for k, v in metadata.items()}
        )
        table = table.replace_schema_metadata(meta)
    return _write(path, lambda p: pq.write_table(table, p, compression="zstd"))


def write_csv(df: pd.DataFrame, path: str | Path, *, float_format: str = "%.10g") -> Path:
    """CSV, UTF-8, Unix newlines, no index, stable float formatting."""
    return _write(
        path, lambda p: df.to_csv(p, index=False, lineterminator="\n", float_format=float_format)
    )


def to_json_text(obj: object) -> str:
    """Stable JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_default) + "\n"


def _default(o: object):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(obj: object, path: str | Path) -> Path:
    """Write ``obj`` as JSON (:func:`to_json_text`) to ``path`` atomically; return the path."""
    text = to_json_text(obj)
    return _write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8); return the path."""
    return _write(path, lambda p: p.write_text(text, encoding="utf-8"))
