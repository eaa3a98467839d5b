"""Writing files so that a failure never leaves a half-written one behind.

Every file gridlab writes (videos, plots, checkpoints, summaries) goes through
`atomic_path`: the content is written to a temporary file in the target's own
folder (so both are on one file system) and renamed over the target only once
it is complete and flushed to disk; `os.replace` is atomic there.
"""

import contextlib
import hashlib
import os
import pathlib
import tempfile
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:  # Linux reports it; elsewhere it can only be read by setting it.
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
    # mkstemp makes files only their owner can read; finished files get the
    # permissions any other new file would.
    os.chmod(tmp, 0o666 & ~_umask())
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


def sha256(path: PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()
