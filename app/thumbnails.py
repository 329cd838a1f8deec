"""Image-list thumbnails: made in plain Python threads, kept in memory and on disk in the project."""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, ImageOps
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from app.background import Background
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


def _load(key: str, source: Path, cached: Path) -> bytes | None:
    """A thumbnail's JPEG bytes from the disk cache, or made and cached; None if unreadable."""
    try:
        stat = source.stat()
        cached = cached.with_name(_disk_name(key, stat.st_mtime_ns, stat.st_size))
        if cached.is_file():
            return cached.read_bytes()
        data = make_thumbnail(source)
        try:
            atomic_write_bytes(cached, data)
        except OSError:  # a read-only project still shows thumbnails
            log.info("thumbnail cache not writable: %s", cached)
        return data
    except Exception as exc:  # an unreadable image gets no thumbnail, never a crash
        log.info("no thumbnail for %s: %s", source, exc)
        return None


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
        # Leave a core to the window and to training; the rows on screen now come first, not
        # those scrolled past.
        workers = max(1, min(4, (os.cpu_count() or 2) - 1))
        self._pool = Background(self, name="thumbnails", workers=workers, newest_first=True)

    def get(self, rel_path: str) -> QPixmap | None:
        """The thumbnail if it is in memory; otherwise None, and it is loaded in the background."""
        pixmap = self._memory.get(rel_path)
        if pixmap is not None:
            self._memory.move_to_end(rel_path)
            return pixmap
        if rel_path not in self._pending and rel_path not in self._failed:
            self._pending.add(rel_path)
            shard = hashlib.sha1(rel_path.encode()).hexdigest()[:2]
            source, cached = self.root / rel_path, self.cache_dir / shard / "x"
            self._pool.submit(
                lambda: _load(rel_path, source, cached), lambda data: self._done(rel_path, data)
            )
        return None

    def _done(self, key: str, data: bytes | None) -> None:
        self._pending.discard(key)
        if data is None:
            self._failed.add(key)
            return
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
        self._pool.shutdown()
