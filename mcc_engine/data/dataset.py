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
    """Item i: the views of image i, its label vector and, where corrected, its mask."""

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
        self.epoch = 0
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

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws for a new pass over the data."""
        self.epoch = epoch

    def has_mask(self, index: int) -> bool:
        """Whether image `index` has a corrected mask."""
        return index in self.masks

    def __getitem__(self, index: int) -> dict[str, torch.Tensor] | LoadFailure:
        try:
            return self._item(index)
        except InputError as exc:
            return LoadFailure(None if exc.path is None else str(exc.path), exc.problem)

    def _item(self, index: int) -> dict[str, torch.Tensor]:
        sample = self.folder.samples[index]
        rng = np.random.default_rng((self.seed, self.epoch, index))
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
