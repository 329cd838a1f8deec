"""Pseudo-masks for annotators, one image at a time: our paths and the authors' (method.md)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mcc_engine.data.masks import IGNORE
from mcc_engine.errors import InputError
from mcc_engine.method.authors_inference import BACKGROUND, authors_cam, authors_seg
from mcc_engine.method.cam import normalise_cam
from mcc_engine.method.dense_crf import AUTHORS_CRF, OURS_CRF, dense_crf
from mcc_engine.method.par import par_refine
from mcc_engine.model.network import MCCNet
from mcc_engine.model.weights import load_run_checkpoint
from mcc_engine.train.device import pick_device

# The network sees images shrunk to at most INFER_CROPS x the training crop on the longer side,
# near the scale the model learnt (training rescales images by 0.5 to 2, then crops), and a
# 20-megapixel photo costs what a small one does; results are resized back to the image. Measured
# on the demo data (demo preset, crop 64, images of 96-160 px): 2 crops lose 0.005 mIoU, 2.5 lose
# nothing (every demo image is seen whole), 1.5 lose 0.027.
INFER_CROPS: Final = 2.5
PAR_SIDE: Final = 512  # PAR runs at most at this size; its effect is on edges, not detail
SMALL_SIDE: Final = 256  # up to this input side one thread is faster: 4.7x at 160 px, shared CPU
METHODS: Final = ("ours", "authors")
SHARPNESS: Final = 0.1  # softmax temperature turning refined scores into a confidence
SEG_SCALES: Final = (1.0, 1.25, 1.5)
# Proposals take the CAM at scale 1 with its flip, not training's 1, 0.5, 1.5 (method.md step 2):
# at 2.5 crops the half scale is too coarse (the demo's 160 px becomes 10 x 10 tokens). CAM + PAR
# mIoU, demo preset, seeds 0/1/2 (320 demo images): 1, 0.5, 1.5: 0.582/0.587/0.594; 1 alone:
# 0.590/0.595/0.606; 1 and 1.5: 0.598/0.602/0.606, at twice the cost of 1 alone. On the second
# generator (bench/scenes.py, 200 images, seeds 0/1/2), where models learn little: 0.262/0.286/0.201,
# 1 alone 0.250/0.280/0.199, 1 and 1.5 0.268/0.296/0.208. A proposal at scale 1 costs half.
CAM_SCALES: Final = (1.0,)
# Weights of the uncertainty's signals (Prediction.signals), each in [0, 1]. Chosen on the demo's
# round-0 model (320 images): per-image error ranks with low confidence (Spearman 0.56) and
# disagreement (0.47), which together pick the worst tenth best; the head's stray classes are noisy
# while the head is young (0.14), so they weigh less. A missing tag is rare but always a real error.
W_DISAGREE: Final = 1.0
W_MISSING: Final = 0.5
W_UNNAMED: Final = 0.25


@dataclass
class Prediction:
    """A pseudo-mask (class indices), its per-pixel confidence in [0, 1], and the CAMs.

    `cam_small` holds the CAMs (K, h, w) at the size the network saw; `cam` resizes them to the
    image when first asked for (the app stores them; `mcc infer` never needs them).
    `rival` is the other source's mask over the same classes (the segmentation head's when the mask
    came from the CAMs, the CAMs' when it came from the head) and `head` the head's own argmax over
    every class; both are None when the segmentation head is untrained.
    """

    mask: np.ndarray
    confidence: np.ndarray
    cam_small: np.ndarray
    rival: np.ndarray | None = None
    head: np.ndarray | None = None

    @functools.cached_property
    def cam(self) -> np.ndarray:
        """The CAMs (K, H, W) at the image's size."""
        height, width = self.mask.shape
        if self.cam_small.shape[-2:] == (height, width):
            return self.cam_small
        return _resized(torch.from_numpy(self.cam_small)[None], (height, width))

    def uncertainty(self, labels: Iterable[int]) -> float:
        """U = low_confidence + disagreement + 0.5 missing + 0.25 unnamed (higher is worse)."""
        s = self.signals(labels)
        return float(
            s["low_confidence"]
            + W_DISAGREE * s["disagreement"]
            + W_MISSING * s["missing"]
            + W_UNNAMED * s["unnamed"]
        )

    def signals(self, labels: Iterable[int]) -> dict[str, float]:
        """The uncertainty's parts, each in [0, 1].

        low_confidence: 1 - mean per-pixel confidence. disagreement: share of pixels where the CAM
        pseudo-label and the segmentation head (restricted to the tags) differ, 0 without a trained
        head. missing: share of the tags the mask does not contain. unnamed: share of pixels where
        the mask, or the head free to choose any class, names a class the tags do not.
        """
        tags = sorted({int(k) for k in labels})
        present = set(np.unique(self.mask).tolist())
        named = np.zeros(256, bool)
        named[[0, IGNORE, *tags]] = True
        stray = ~named[self.mask]
        if self.head is not None:
            stray |= ~named[self.head]
        disagreement = 0.0
        if self.rival is not None:
            disagreement = float((self.rival != self.mask).mean())
        return {
            "low_confidence": float(1.0 - self.confidence.mean()),
            "disagreement": disagreement,
            "missing": sum(1 for k in tags if k not in present) / max(1, len(tags)),
            "unnamed": float(stray.mean()),
        }


class Predictor:
    """A trained model ready to propose masks.

    `side` is the longer side the network sees (images are only ever shrunk to it): by default
    INFER_CROPS times the model's training crop, the scale it learnt; `cam_side` is the square the
    authors' CAM tool resizes to (their 448, our training crop by default).
    """

    def __init__(
        self,
        model: MCCNet,
        classes: list[str],
        device: torch.device,
        *,
        head_trained: bool = True,
        crop: int | None = None,
        side: int | None = None,
    ) -> None:
        self.model = model.eval().to(device)
        self.classes = classes
        self.device = device
        self.bg_threshold = 0.45
        self.head_trained = head_trained
        self.crop = int(crop or model.cfg.img_size)
        self.side = int(side or round(INFER_CROPS * self.crop))
        self.cam_side = int(side or self.crop)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, *, device: str = "auto", side: int | None = None
    ) -> Predictor:
        """Load a run's checkpoint (weights_only) for inference."""
        model, data = load_run_checkpoint(path)
        return cls(
            model,
            list(data["classes"]),
            pick_device(device),
            head_trained=head_trained(data),
            crop=training_crop(data, model),
            side=side,
        )

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.model.pixel_mean.view(1, 3, 1, 1)
        std = self.model.pixel_std.view(1, 3, 1, 1)
        return (x - mean) / std

    def _input(self, image: np.ndarray, side: int) -> torch.Tensor:
        """The image shrunk so its longer side is at most `side`, sides multiples of the patch."""
        height, width = image.shape[:2]
        p = self.model.patch_size
        scale = min(1.0, side / max(height, width))
        size = (max(p, round(height * scale / p) * p), max(p, round(width * scale / p) * p))
        if scale < 1.0:  # shrink the 8-bit image by area: no aliasing, and cheap for photos
            image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None].float() / 255.0
        if x.shape[-2:] != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self._normalise(x)

    def _rgb(self, x: torch.Tensor) -> torch.Tensor:
        """A normalised input back in 0-255 RGB (PAR's colours)."""
        return (
            x * self.model.pixel_std.view(1, 3, 1, 1) + self.model.pixel_mean.view(1, 3, 1, 1)
        ) * 255

    @torch.no_grad()
    def predict(
        self,
        image: np.ndarray,
        labels: Iterable[int],
        *,
        source: str = "cam",
        refine: str | None = None,
        method: str = "ours",
    ) -> Prediction:
        """Mask, confidence and CAMs of one RGB image, over background and its tagged classes.

        method "ours" (default refine: PAR) or "authors" (their tools; refine none, or crf for
        the segmentation head); see `check_method`.
        """
        refine = check_method(method=method, source=source, refine=refine)
        labels = sorted({int(k) for k in labels if 1 <= int(k) <= len(self.classes)})
        with torch_threads(threads_for(self.side)):
            if method == "authors":
                return self._predict_authors(image, labels, source=source, refine=refine)
            return self._predict_ours(image, labels, source=source, refine=refine)

    def _predict_ours(
        self, image: np.ndarray, labels: list[int], *, source: str, refine: str
    ) -> Prediction:
        k = len(self.classes)
        height, width = image.shape[:2]
        x = self._input(image, self.side)
        allowed = torch.zeros(k + 1, dtype=torch.bool, device=self.device)
        allowed[[0, *labels]] = True
        # The disagreement signal needs the head only at scale 1 when the mask comes from CAMs.
        head_scales = SEG_SCALES if source == "seg" else (1.0,) if self.head_trained else ()
        cam, head = self._cams_and_head(x, head_scales)
        bg = torch.full_like(cam[:, :1], self.bg_threshold)
        cam_scores = torch.cat([bg, cam], dim=1)
        if source == "seg":
            scores, rival_scores = head, cam_scores
        else:
            scores, rival_scores = cam_scores, head
        # Only background and the tags can win: refine, resize and compare just those channels
        # (the others would stay 0 through softmax and PAR alike).
        keep = allowed.nonzero()[:, 0]
        scores = scores[:, keep]
        probs = torch.softmax(scores / SHARPNESS if source == "cam" else scores, dim=1)
        if refine in ("par", "crf"):
            small = x if max(x.shape[-2:]) <= PAR_SIDE else self._input(image, PAR_SIDE)
            probs = par_refine(self._rgb(small), probs)
        probs = F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)[0]
        if refine == "crf":
            probs = torch.from_numpy(dense_crf(image, probs.cpu().numpy(), OURS_CRF))
        confidence, index = probs.max(dim=0)
        mask = keep.to(probs.device)[index]
        rival = free = None
        if self.head_trained:
            rival_scores = rival_scores.masked_fill(~allowed.view(1, -1, 1, 1), float("-inf"))
            rival = _argmax_at(rival_scores, (height, width))
            free = _argmax_at(head, (height, width))
        return Prediction(
            mask=mask.to(torch.uint8).cpu().numpy(),
            confidence=confidence.float().clamp(0, 1).cpu().numpy(),
            cam_small=cam[0].float().cpu().numpy(),
            rival=rival,
            head=free,
        )

    def _predict_authors(
        self, image: np.ndarray, labels: list[int], *, source: str, refine: str
    ) -> Prediction:
        height, width = image.shape[:2]
        full = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None].float() / 255.0
        tags = torch.zeros(1, len(self.classes), device=self.device)
        tags[0, [k - 1 for k in labels]] = 1.0
        cams = authors_cam(self.model, self._normalise(full), tags, size=self.cam_side)
        if source == "cam":
            mask = cams.cam_label[0]
            bg = torch.full_like(cams.cam[:, :1], BACKGROUND)
            scores = torch.cat([bg, cams.cam * tags[:, :, None, None]], dim=1)
            confidence = torch.softmax(scores / SHARPNESS, dim=1)[0].max(dim=0).values
        else:
            seg = authors_seg(self.model, self._input(image, self.side))
            probs = torch.softmax(_resized_t(seg.seg_logits, (height, width)), dim=1)[0]
            if refine == "crf":
                probs = torch.from_numpy(dense_crf(image, probs.cpu().numpy(), AUTHORS_CRF))
            confidence, mask = probs.max(dim=0)
        return Prediction(
            mask=mask.to(torch.uint8).cpu().numpy(),
            confidence=confidence.float().clamp(0, 1).cpu().numpy(),
            cam_small=cams.cam[0].float().cpu().numpy(),
        )

    def _cams_and_head(
        self, x: torch.Tensor, head_scales: tuple[float, ...]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The CAM at CAM_SCALES with flips (training's multi-scale CAM, method.md step 2, at
        fewer scales) and our head scores, one encoder pass per scale serving both.

        Our head scores (a departure): the logits MEANT over `head_scales` and flips; the
        authors sum each flip pair and take the max over scales (authors_seg).
        """
        size = x.shape[-2:]
        cam_total = head_total = None
        for scale in dict.fromkeys((*CAM_SCALES, *head_scales)):
            xs = _patch_multiple(x, scale, self.model.patch_size)
            tokens = self.model.encode(torch.cat([xs, xs.flip(-1)])).tokens
            if scale in CAM_SCALES:
                cam = _resized_t(self.model.cam_from_tokens(tokens).float(), size)
                cam = F.relu(torch.maximum(cam[:1], cam[1:].flip(-1)))
                cam_total = cam if cam_total is None else cam_total + cam
            if scale in head_scales:
                logits = _resized_t(self.model.decoder(tokens), size)
                pair = logits[:1] + logits[1:].flip(-1)
                head_total = pair if head_total is None else head_total + pair
        head = None if head_total is None else head_total / (2 * len(head_scales))
        return normalise_cam(cam_total), head


def check_method(*, method: str, source: str, refine: str | None) -> str:
    """The refinement to use (the method's default when None); bad combinations are InputErrors.

    ours: CAM (+ PAR by default) or our head average, with par, crf or none. authors: their CAM
    tool (no refinement) or their head (none, or crf with their settings).
    """
    if method not in METHODS:
        raise InputError(None, f"unknown method {method!r}; use {' or '.join(METHODS)}")
    if source not in ("cam", "seg"):
        raise InputError(None, f"unknown source {source!r}; use cam or seg")
    refine = refine or ("par" if method == "ours" else "none")
    if refine not in ("par", "crf", "none"):
        raise InputError(None, f"unknown refinement {refine!r}; use par, crf or none")
    if method == "authors" and refine == "par":
        raise InputError(None, "the authors' tools apply no PAR; use --refine none or crf")
    if method == "authors" and source == "cam" and refine != "none":
        raise InputError(None, "the authors' CAM tool applies no refinement; use --refine none")
    return refine


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block with `count` torch threads, then restore the previous number."""
    before = torch.get_num_threads()
    if count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count != before:
            torch.set_num_threads(before)


def threads_for(side: int) -> int:
    """Threads for one proposal: one for small work, whose many short operations lose more to
    thread hand-offs than they gain (and collapse when another program holds a core)."""
    return torch.get_num_threads() if side > SMALL_SIDE else 1


def _patch_multiple(x: torch.Tensor, scale: float, patch: int) -> torch.Tensor:
    """x resized by `scale`, each side rounded to a multiple of the patch (as training does)."""
    height, width = x.shape[-2:]
    size = (
        max(patch, round(height * scale / patch) * patch),
        max(patch, round(width * scale / patch) * patch),
    )
    return x if size == (height, width) else _resized_t(x, size)


def _resized_t(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _resized(cam: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    return _resized_t(cam, size)[0].float().cpu().numpy()


def _argmax_at(scores: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """The class map of scores (1, C, h, w), resized to `size` by nearest neighbour (uint8)."""
    index = scores[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
    return cv2.resize(index, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def training_crop(checkpoint: dict, model: MCCNet) -> int:
    """The crop a checkpoint's model learnt at: its run's, else the network's input size."""
    return int((checkpoint.get("train_config") or {}).get("crop") or model.cfg.img_size)


def head_trained(checkpoint: dict) -> bool:
    """Whether a checkpoint's seg head has learnt: past its run's seg warm-up, or via --init."""
    # Files from elsewhere (the authors' checkpoints) carry no run settings and come trained.
    train_cfg = checkpoint.get("train_config") or {}
    if "iters" not in train_cfg or "step" not in checkpoint or train_cfg.get("init"):
        return True
    from mcc_engine.method.config import MethodConfig

    method = MethodConfig.from_dict(checkpoint.get("method_config") or {})
    if "w_seg" in train_cfg:  # runs saved before the weights moved into the method settings
        method.w_seg = float(train_cfg["w_seg"])
    last = int(checkpoint["step"]) - 1  # the index of the last step taken
    return last >= 0 and method.seg_active(last, int(train_cfg["iters"])) and method.w_seg > 0
