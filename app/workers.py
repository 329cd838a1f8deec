"""Long work off the GUI thread: engine functions in a QThread, their callbacks as signals."""

from __future__ import annotations

import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal

from mcc_engine.errors import Cancelled, InputError


class Worker(QObject):
    """Runs `job(progress=..., should_stop=...)` in its own thread."""

    progress = Signal(object)
    finished = Signal(object)
    cancelled = Signal(object)  # the Cancelled exception: what the job kept is its `kept`
    failed = Signal(str)

    def __init__(self, job: Callable) -> None:
        super().__init__()
        self.job = job
        # Kept: a window closing before the finished (or cancelled) signal arrives reads them.
        self.result = None
        self.ended = False
        self.was_cancelled = False
        self._stop = False
        self.thread = QThread()
        self.moveToThread(self.thread)
        self.thread.started.connect(self._run)

    def start(self) -> None:
        """Start the thread."""
        self.thread.start()

    def stop(self) -> None:
        """Ask the job to stop at its next check."""
        self._stop = True

    def should_stop(self) -> bool:
        """Polled by the job."""
        return self._stop

    def wait(self) -> None:
        """Block until the thread has ended (for closing the window and for tests)."""
        self.thread.quit()
        self.thread.wait()

    def _run(self) -> None:
        try:
            result = self.job(progress=self.progress.emit, should_stop=self.should_stop)
        except Cancelled as exc:  # a stop the user asked for: not an error
            self.result, self.ended, self.was_cancelled = exc.kept, True, True
            self.cancelled.emit(exc)
        except InputError as exc:
            self.failed.emit(str(exc))
        except Exception:  # a bug must reach the user as a dialog, not kill the app
            self.failed.emit("unexpected error:\n" + traceback.format_exc(limit=4))
        else:
            self.result = result
            self.ended = True
            self.finished.emit(result)
        finally:
            self.thread.quit()
