"""Atomic writes: a temporary file (or folder) beside the target, then one rename over it.

Temporary names carry the writer's process id, so that a later run can tell what a killed one left
behind (`remove_leftovers`) from what a running one is still writing. Files and folders get the
permissions `open()` and `mkdir()` would give them under the user's umask. An error about a
temporary path names the destination instead: users never see the hidden names.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from mcc_engine.errors import InputError

_PREFIX_CHARS = 40  # of the destination's name kept in temporary names (255-byte limit on names)
# After the prefix ".NAME.": ours ("PID.TOKEN.partial|tmp", "old-PID"), and an older version's
# random names ("XXXXXXXX.partial|tmp"), whose writers are gone or never come back.
_OURS = re.compile(r"(?P<pid>\d+)\.[0-9a-f]{8}\.(partial|tmp)|old-(?P<old>\d+)")
_OLDER = re.compile(r"[a-z0-9_]{8}\.(partial|tmp)")


def _hidden_name(dest: Path, suffix: str) -> str:
    return f".{dest.name[:_PREFIX_CHARS]}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"


@contextlib.contextmanager
def _naming(hidden: Path, dest: Path) -> Iterator[None]:
    """Rewrite OSErrors about `hidden` (or anything under it) to name `dest` instead."""
    try:
        yield
    except OSError as exc:
        for attr in ("filename", "filename2"):
            name = getattr(exc, attr, None)
            if isinstance(name, str) and name.startswith(str(hidden)):
                setattr(exc, attr, str(dest) + name[len(str(hidden)) :])
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(_hidden_name(path, ".tmp"))
    with _naming(tmp, path):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        os.close(fd)
        try:
            yield tmp
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        finally:
            if tmp.exists():
                tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old or the new content, never a part."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def staged_directory(dest: str | Path) -> Iterator[Path]:
    """Yield a fresh folder beside `dest`; on success it takes `dest`'s place, on failure it goes.

    An existing `dest` is swapped out only after the new content is complete, in one exchange of
    the two names where the system has it (Linux), so a failure or a kill at any moment leaves the
    destination as it was or complete. What killed runs left beside `dest` is removed first.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError(dest, "exists and is not a folder; choose a folder name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(dest)
    stage = dest.with_name(_hidden_name(dest, ".partial"))
    with _naming(stage, dest):
        stage.mkdir()  # mode 0o777 less the umask, like any folder the user makes
        try:
            yield stage
            if dest.is_dir() and not _exchange(stage, dest):
                old = dest.with_name(f".{dest.name[:_PREFIX_CHARS]}.old-{os.getpid()}")
                os.replace(dest, old)  # a kill until the next line is undone by remove_leftovers
                os.replace(stage, dest)
                os.replace(old, stage)
            elif not dest.is_dir():
                os.replace(stage, dest)
            _fsync_dir(dest.parent)
        finally:
            # The new content on failure; the old destination (or the link that was it) after.
            if stage.is_symlink():
                stage.unlink()
            else:
                shutil.rmtree(stage, ignore_errors=True)


def remove_leftovers(dest: str | Path) -> None:
    """Delete temporary files and folders that killed writers of `dest` left beside it.

    A set-aside old destination whose writer died before the new one took its place is put back.
    Entries of live processes are kept: another run may be writing the same destination now.
    """
    dest = Path(dest)
    prefix = f".{dest.name[:_PREFIX_CHARS]}."
    try:
        entries = [p for p in dest.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for entry in entries:
        rest = entry.name[len(prefix) :]
        ours, older = _OURS.fullmatch(rest), _OLDER.fullmatch(rest)
        if ours is None and older is None:
            continue  # another destination's, or not a temporary at all
        if ours is not None and _alive(int(ours["pid"] or ours["old"])):
            continue
        if ours is not None and ours["old"] and not dest.exists():
            os.replace(entry, dest)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def _alive(pid: int) -> bool:
    """Whether the process that made a temporary entry may still be running."""
    if pid == os.getpid():
        return False  # our own earlier, failed attempt
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would stop the process there; leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False  # old kernels and some file systems: fall back to two renames
    raise OSError(code, os.strerror(code), str(b))


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable; not every platform lets a folder be opened for this.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
