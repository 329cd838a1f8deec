"""Image-list thumbnails: made in a thread pool, kept in memory and on disk in the project."""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, ImageOps
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from mcc_engine.atomic import atomic_write_bytes

SIZE: Final = 96  # pixels on the long side; drawn at 48 logical pixels, sharp on 2x screens
MEMORY: Final = 3000  # thumbnails kept in memory
log = logging.getLogger(__name__)


def make_thumbnail(path: Path, size: int = SIZE) -> bytes:
    """JPEG bytes of a small copy of an image (EXIF orientation applied)."""
    with Image.open(path) as image:
        image.draft("RGB", (size * 2, size * 2))  # JPEG decodes at 1/2..1/8 scale: fast
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            image = _to_8bit_rgb(image)
        image.thumbnail((size, size), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()


def _to_8bit_rgb(image: Image.Image) -> Image.Image:
    if image.mode.startswith("I"):  # 16-bit grey: stretch to 8 bits
        values = np.asarray(image, dtype=np.float32)
        top = float(values.max()) or 1.0
        return Image.fromarray((values * (255.0 / top)).astype(np.uint8))
    return image.convert("RGB")


class _Signals(QObject):
    done = Signal(str, bytes)
    failed = Signal(str)


class _Job(QRunnable):
    def __init__(self, key: str, source: Path, cached: Path, signals: _Signals) -> None:
        super().__init__()
        self.key, self.source, self.cached, self.signals = key, source, cached, signals

    def run(self) -> None:
        try:
            stat = self.source.stat()
            cached = self.cached.with_name(_disk_name(self.key, stat.st_mtime_ns, stat.st_size))
            if cached.is_file():
                data = cached.read_bytes()
            else:
                data = make_thumbnail(self.source)
                try:
                    atomic_write_bytes(cached, data)
                except OSError:  # a read-only project still shows thumbnails
                    log.info("thumbnail cache not writable: %s", cached)
            self.signals.done.emit(self.key, data)
        except Exception as exc:  # an unreadable image gets no thumbnail, never a crash
            log.info("no thumbnail for %s: %s", self.source, exc)
            self.signals.failed.emit(self.key)


def _disk_name(key: str, mtime_ns: int, size: int) -> str:
    # The file's time and size are in the name, so an image replaced on disk gets a new thumbnail.
    return hashlib.sha1(f"{key}|{mtime_ns}|{size}".encode()).hexdigest() + ".jpg"


class Thumbnails(QObject):
    """Thumbnails by image relative path; `ready(rel_path)` when one has been loaded."""

    ready = Signal(str)

    def __init__(self, root: Path, cache_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root, self.cache_dir = root, cache_dir
        self._memory: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self._failed: set[str] = set()
        self._order = itertools.count()
        self._pool = QThreadPool(self)
        # Leave a core to the window and to training.
        self._pool.setMaxThreadCount(max(1, min(4, (os.cpu_count() or 2) - 1)))
        self._signals = _Signals(self)
        self._signals.done.connect(self._done)
        self._signals.failed.connect(self._failed.add)
        self._signals.failed.connect(self._pending.discard)

    def get(self, rel_path: str) -> QPixmap | None:
        """The thumbnail if it is in memory; otherwise None, and it is loaded in the background."""
        pixmap = self._memory.get(rel_path)
        if pixmap is not None:
            self._memory.move_to_end(rel_path)
            return pixmap
        if rel_path not in self._pending and rel_path not in self._failed:
            self._pending.add(rel_path)
            shard = hashlib.sha1(rel_path.encode()).hexdigest()[:2]
            job = _Job(rel_path, self.root / rel_path, self.cache_dir / shard / "x", self._signals)
            # Newest requests first: the rows on screen now, not those scrolled past.
            self._pool.start(job, next(self._order) % 1_000_000)
        return None

    def _done(self, key: str, data: bytes) -> None:
        self._pending.discard(key)
        image = QImage.fromData(data, "JPG")
        self._memory[key] = QPixmap.fromImage(image)
        while len(self._memory) > MEMORY:
            self._memory.popitem(last=False)
        self.ready.emit(key)

    def settled(self, rel_path: str) -> bool:
        """Whether a thumbnail is ready or could not be made (asks for it otherwise)."""
        return self.get(rel_path) is not None or rel_path in self._failed

    def busy(self) -> bool:
        """Whether thumbnails are still being made."""
        return bool(self._pending)

    def shutdown(self) -> None:
        """Drop queued work and wait for the running jobs (before the project closes)."""
        self._pool.clear()
        self._pool.waitForDone()
