"""Whether a project has tags enough to fine-tune on: the app's minimum, stated in one place.

Training learns from tagged images only (an untagged image is not "none of the classes"). A
fine-tune needs at least MIN_TAGGED_IMAGES tagged images: fewer are learnt by heart and the model
says nothing about the rest. And every class in use needs MIN_PER_CLASS images: with one, the
class cannot be told from whatever else is in that image. Classes no image carries yet are fine.
"""

from __future__ import annotations

from typing import Final

from mcc_engine.data.folder import DataFolder

MIN_TAGGED_IMAGES: Final = 8
MIN_PER_CLASS: Final = 2


def class_counts(folder: DataFolder) -> dict[str, int]:
    """How many images carry each class (every class, in the folder's order)."""
    counts = dict.fromkeys(folder.classes, 0)
    for sample in folder.samples:
        for k in sample.labels:
            counts[folder.classes[k - 1]] += 1
    return counts


def too_few_tags(folder: DataFolder) -> str | None:
    """Why the tagged images of `folder` are too few to fine-tune on; None when they are enough."""
    tagged = sum(1 for s in folder.samples if s.labels)
    untagged = len(folder.samples) - tagged
    rare = [(name, n) for name, n in class_counts(folder).items() if 0 < n < MIN_PER_CLASS]
    if tagged >= MIN_TAGGED_IMAGES and not rare:
        return None
    rule = (
        f"Fine-tuning needs at least {MIN_TAGGED_IMAGES} tagged images, and at least "
        f"{MIN_PER_CLASS} images for each class in use."
    )
    now = f"{tagged} image{'' if tagged == 1 else 's'} tagged, {untagged} untagged"
    if rare:
        shown = ", ".join(f"{name!r} is on {n}" for name, n in rare[:5])
        now += f"; {shown}{' …' if len(rare) > 5 else ''}"
    return f"{rule} Now: {now}."
