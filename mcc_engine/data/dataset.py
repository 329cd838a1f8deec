"""The torch Dataset that feeds training: views, tags and corrected masks of each image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from mcc_engine.data.folder import DataFolder
from mcc_engine.data.images import read_image
from mcc_engine.data.masks import mask_rel_path, read_mask
from mcc_engine.data.views import ViewConfig, make_views
from mcc_engine.errors import InputError


@dataclass
class LoadFailure:
    """An item that could not be read: carried to the training loop as data, because a loader
    worker's exception reaches the main process only as a traceback text."""

    path: str | None
    problem: str


def collate(items: list) -> dict[str, torch.Tensor] | LoadFailure:
    """The default collate, or the first LoadFailure among the items."""
    for item in items:
        if isinstance(item, LoadFailure):
            return item
    return default_collate(items)


class TrainDataset(Dataset):
    """Item (i, epoch): the views of image i, its label vector and, where corrected, its mask.

    The epoch travels with the index (rather than as dataset state) so that data-loading
    workers, which hold their own copy of the dataset, draw each epoch's own augmentations.
    """

    def __init__(
        self,
        folder: DataFolder,
        *,
        crop: int,
        mean,
        std,
        masks_dir: str | Path | None = None,
        mask_images: set[str] | None = None,
        seed: int = 0,
        view_cfg: ViewConfig | None = None,
    ) -> None:
        self.folder = folder
        self.cfg = view_cfg or ViewConfig(crop=crop)
        self.cfg.crop = crop
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.seed = seed
        self.masks: dict[int, Path] = {}
        if masks_dir is not None:
            for i, sample in enumerate(folder.samples):
                if mask_images is not None and sample.rel_path not in mask_images:
                    continue
                path = Path(masks_dir) / mask_rel_path(sample.rel_path)
                if path.is_file():
                    self.masks[i] = path

    def __len__(self) -> int:
        return len(self.folder.samples)

    def has_mask(self, index: int) -> bool:
        """Whether image `index` has a corrected mask."""
        return index in self.masks

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor] | LoadFailure:
        """The views of image `index` as drawn in `epoch`, for a key (index, epoch) or index.

        A bad file comes back as a LoadFailure (data, not an exception), so that a data-loading
        worker's failure reaches the user as one line rather than a worker traceback.
        """
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        try:
            return self._item(index, epoch)
        except InputError as exc:
            return LoadFailure(None if exc.path is None else str(exc.path), exc.problem)

    def _item(self, index: int, epoch: int) -> dict[str, torch.Tensor]:
        sample = self.folder.samples[index]
        rng = np.random.default_rng((self.seed, epoch, index))
        image = read_image(self.folder.image_path(sample))
        mask = None
        if index in self.masks:
            mask = read_mask(self.masks[index], num_classes=len(self.folder.classes) + 1)
            if mask.shape != image.shape[:2]:
                raise InputError(
                    self.masks[index],
                    f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
                    f"{image.shape[1]}x{image.shape[0]}",
                )
        views = make_views(image, mask, cfg=self.cfg, mean=self.mean, std=self.std, rng=rng)
        out = {name: torch.from_numpy(np.ascontiguousarray(v)) for name, v in views.items()}
        out["labels"] = torch.from_numpy(self.folder.label_vector(sample))
        out["has_mask"] = torch.tensor(mask is not None)
        out["index"] = torch.tensor(index)
        return out


def corrected_sampling_weights(dataset: TrainDataset, ratio: float = 3.0) -> np.ndarray:
    """Per-image sampling weights: a corrected image is drawn `ratio` times as often as another."""
    weights = np.ones(len(dataset), np.float64)
    for index in dataset.masks:
        weights[index] = ratio
    return weights / weights.sum()
