"""One writer per project: a lock file naming the host and process that has it open."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from mcc_engine.errors import InputError


class ProjectInUse(InputError):
    """Another process has this project open for writing."""


def take_lock(path: Path, *, project: Path) -> None:
    """Create the lock file, reclaiming one left by a dead process on this host."""
    me = f"{socket.gethostname()} pid {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = path.read_text(encoding="utf-8", errors="replace").strip()
            host, _, pid = holder.partition(" pid ")
            pid = pid.split(" ")[0]
            if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
                path.unlink(missing_ok=True)  # left by a process that died
                continue
            raise ProjectInUse(
                project, f"project in use by {holder}; open it read-only or close it there"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{me} since {time.strftime('%Y-%m-%d %H:%M')}\n")
        return
    raise ProjectInUse(project, "another process keeps taking the project's lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
