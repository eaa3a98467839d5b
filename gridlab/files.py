"""Writing files so that a failure never leaves a half-written one behind.

Every file gridlab writes (videos, plots, checkpoints, summaries) goes through
`atomic_path`: the content is written to a temporary file in the target's own
folder (so both are on one file system) and renamed over the target only once
it is complete and flushed to disk; `os.replace` is atomic there.
"""

import contextlib
import os
import pathlib
import tempfile
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]

# mkstemp creates files readable by their owner only; finished files should get
# the usual permissions, so read the process umask once (it can only be read
# by setting it).
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[pathlib.Path]:
    """Yields a temporary path to write; on success it becomes `path`.

    The temporary name keeps the target's suffix, because some writers (imageio,
    matplotlib) pick the format from it. On any exception the temporary file is
    removed and the exception propagates; an existing `path` is left untouched.
    """
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f'cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist')
    # '.name.XXXX.part.mp4': hidden, clearly partial, and still ends in '.mp4'.
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{path.stem}.', suffix='.part' + path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)
    tmp = pathlib.Path(tmp)
    try:
        yield tmp
        with open(tmp, 'rb+') as written:  # On disk before the name points to it.
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Writes `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding='utf-8')
