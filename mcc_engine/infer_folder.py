"""Pseudo-masks for a whole data folder, written all or nothing (`mcc infer`).

Guarantee: the mask folder (and the confidence folder) is built beside its destination and takes
its place in one step when every image is done; the scores file is written atomically just before.
A bad image, an error, a cancel or a kill at any moment leaves each destination as it was (or
absent); what a killed run left beside them, the next run removes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from mcc_engine.atomic import atomic_write_text, remove_leftovers, staged_directory
from mcc_engine.data.folder import DataFolder, Sample, load_data_folder
from mcc_engine.data.images import read_image
from mcc_engine.data.masks import encode_confidence, encode_mask, mask_rel_path
from mcc_engine.errors import Cancelled, InputError
from mcc_engine.infer import Prediction, Predictor, check_method, torch_threads

MAX_WORKERS: Final = 8  # memory: each image in flight holds its full-size arrays


@dataclass
class Proposal:
    """One image's prediction with its mask (and confidence map) encoded and its score."""

    prediction: Prediction
    mask: bytes
    confidence: bytes | None
    score: float


@dataclass
class InferResult:
    """What a folder run wrote."""

    written: int = 0
    scores: dict[str, float] = field(default_factory=dict)


def infer_folder(
    *,
    checkpoint: str | Path,
    data: str | Path | DataFolder,
    out: str | Path,
    source: str = "cam",
    refine: str | None = None,
    method: str = "ours",
    size: int | None = None,
    confidence: str | Path | None = None,
    scores: str | Path | None = None,
    only: set[str] | None = None,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    predictor: Predictor | None = None,
    on_result: Callable[[str, Prediction], None] | None = None,
) -> InferResult:
    """Write a pseudo-mask (and confidence map) for every image of a data folder, all or nothing.

    Raises Cancelled (having written nothing) when `should_stop()` turns true.
    """
    refine = check_method(method=method, source=source, refine=refine)
    out = Path(out)
    confidence = None if confidence is None else Path(confidence)
    check_mask_folder(out, "--out")
    if confidence is not None:
        if confidence.resolve() == out.resolve():
            raise InputError(confidence, "--confidence must be another folder than --out")
        check_mask_folder(confidence, "--confidence")
    if scores is not None:
        check_writable_file(Path(scores))
    folder = data if isinstance(data, DataFolder) else load_data_folder(data)
    if not folder.classes:
        raise InputError(
            folder.root,
            "no image carries a tag and there is no classes.txt, so "
            "the classes are unknown; tag the images first",
        )
    predictor = predictor or Predictor.from_checkpoint(checkpoint, device=device, side=size)
    if [c.casefold() for c in predictor.classes] != [c.casefold() for c in folder.classes]:
        raise InputError(
            checkpoint,
            f"trained on classes {predictor.classes}, but the data folder has {folder.classes}",
        )
    samples = [s for s in folder.samples if only is None or s.rel_path in only]
    result = InferResult()

    def propose(sample: Sample) -> Proposal:
        # Everything per image happens here, in the worker: the loop below only writes bytes, so
        # no third busy thread competes with the workers for the two cores (and for the GIL).
        image = read_image(folder.image_path(sample))
        pred = predictor.predict(image, sample.labels, source=source, refine=refine, method=method)
        return Proposal(
            prediction=pred,
            mask=encode_mask(pred.mask),
            confidence=None if confidence is None else encode_confidence(pred.confidence),
            score=pred.uncertainty(sample.labels),
        )

    workers = folder_workers(predictor.device)
    with contextlib.ExitStack() as stack:
        # Entered masks first, so they are committed last: new masks mean everything is new.
        stage = stack.enter_context(staged_directory(out))
        conf_stage = (
            None if confidence is None else stack.enter_context(staged_directory(confidence))
        )
        if workers > 1:
            stack.enter_context(torch_threads(1))  # parallel images, each on one thread
        predictions = stack.enter_context(contextlib.closing(in_order(propose, samples, workers)))
        for i, (sample, proposal) in enumerate(predictions):
            if should_stop is not None and should_stop():
                raise Cancelled(f"stopped after {i} of {len(samples)} images; nothing written")
            rel = mask_rel_path(sample.rel_path)
            _write(stage / rel, proposal.mask)
            if conf_stage is not None and proposal.confidence is not None:
                _write(conf_stage / rel, proposal.confidence)
            result.scores[sample.rel_path] = proposal.score
            if on_result is not None:
                on_result(sample.rel_path, proposal.prediction)
            result.written += 1
            if progress is not None:
                progress(i + 1, len(samples))
        if scores is not None:
            _write_scores(Path(scores), result.scores)
    return result


def folder_workers(device) -> int:
    """Images proposed at once: one per usable core on the CPU, each on one thread.

    Independent single-thread workers share a busy machine gracefully, where threads of one
    operation wait for each other at every step and collapse when another program holds a core.
    """
    if getattr(device, "type", "cpu") != "cpu":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def in_order(
    work: Callable[[Sample], Proposal], samples: list[Sample], workers: int
) -> Iterator[tuple[Sample, Proposal]]:
    """(sample, work(sample)) in the samples' order, up to `workers` computed at once."""
    if workers <= 1:
        for sample in samples:
            yield sample, work(sample)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="propose")
    pending: deque = deque()
    queue = iter(samples)
    try:
        for sample in itertools.islice(queue, 2 * workers):
            pending.append((sample, pool.submit(work, sample)))
        while pending:
            sample, future = pending.popleft()
            yield sample, future.result()
            following = next(queue, None)
            if following is not None:
                pending.append((following, pool.submit(work, following)))
    finally:  # an error, a cancel or the end: started images finish, queued ones are dropped
        pool.shutdown(wait=True, cancel_futures=True)


def _write(path: Path, data: bytes) -> None:
    # Inside a staged folder a plain write is enough: the folder appears only when complete.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_scores(path: Path, scores: dict[str, float]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "uncertainty"])
    for rel, value in sorted(scores.items(), key=lambda kv: -kv[1]):
        writer.writerow([rel, f"{value:.6f}"])
    remove_leftovers(path)
    atomic_write_text(path, buffer.getvalue())


def check_mask_folder(path: Path, flag: str) -> None:
    """Refuse to replace a file, or a folder that holds anything but masks (PNG files)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise InputError(path, f"exists and is not a folder; {flag} needs a folder for masks")
    for _parent, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        other = [f for f in files if not f.startswith(".") and not f.lower().endswith(".png")]
        if other:
            raise InputError(
                path,
                f"is not a mask folder (it holds {other[0]!r}), so it may not "
                f"be replaced; choose a new or empty folder for {flag}",
            )


def check_writable_file(path: Path) -> None:
    """Before any work: refuse a file destination that could not be written at the end."""
    if path.is_dir():
        raise InputError(path, "is a folder; give a file name")
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(path, f"cannot be written: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(path, f"cannot be written: no permission to write in {ancestor}")
