"""Work in plain Python threads whose results come back on the GUI thread.

The threads never touch a Qt object: no signal is emitted from them, no QRunnable runs in them.
Each job's result waits in a queue that a timer on the GUI thread empties (while jobs are out),
and its callback runs there. PySide objects used from a pool thread crashed the window once
("Fatal Python error: none_dealloc" in the image list's paint while a save ran).
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)
_STOP = object()


class Background(QObject):
    """Runs jobs in `workers` Python threads, oldest first (or newest first: thumbnails of the
    rows on screen before those scrolled past); `done(result)` runs on the GUI thread."""

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        name: str,
        workers: int = 1,
        newest_first: bool = False,
    ) -> None:
        super().__init__(parent)
        self._jobs: queue.Queue = queue.LifoQueue() if newest_first else queue.Queue()
        self._results: collections.deque = collections.deque()
        self._out = 0  # jobs submitted whose callback has not run yet (GUI thread only)
        self._closed = False
        self._timer = QTimer(self, interval=10)
        self._timer.timeout.connect(self._deliver)
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{k}", daemon=True)
            for k in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, job: Callable[[], object], done: Callable[[object], None] | None = None
    ) -> None:
        """Run `job()` in a thread; then `done(result)` on the GUI thread. A job that raises is
        logged and its `done` is not called: jobs turn expected errors into results. After
        `shutdown`, nothing runs."""
        if self._closed:
            return
        self._out += 1
        self._timer.start()
        self._jobs.put((job, done))

    def wait(self) -> None:
        """Block until every submitted job has run, then run their callbacks."""
        self._jobs.join()
        self._deliver()

    def clear(self) -> None:
        """Drop the jobs not started yet."""
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
            self._jobs.task_done()
            self._out -= 1

    def shutdown(self) -> None:
        """Drop queued jobs, finish the running ones, end the threads."""
        if self._closed:
            return
        self.clear()
        self.wait()
        for _ in self._threads:
            self._jobs.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._timer.stop()
        self._closed = True

    def busy(self) -> bool:
        """Whether jobs are queued or running, or results wait for their callbacks."""
        return self._out > 0

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                self._jobs.task_done()
                return
            job, done = item
            try:
                self._results.append((done, job()))
            except Exception:  # a bug in a job must not end the thread that runs the others
                log.error("background job failed\n%s", traceback.format_exc())
                self._results.append((None, None))
            finally:
                self._jobs.task_done()

    def _deliver(self) -> None:
        while self._results:
            done, result = self._results.popleft()
            self._out -= 1
            if done is not None:
                done(result)
        if self._out <= 0:
            self._timer.stop()
