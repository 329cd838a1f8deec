"""Pseudo-masks for annotators: one image at a time (Predictor) or a whole folder (infer_folder)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mcc_engine.atomic import atomic_write_text
from mcc_engine.data.folder import DataFolder, load_data_folder
from mcc_engine.data.images import read_image
from mcc_engine.data.masks import IGNORE, mask_rel_path, write_confidence, write_mask
from mcc_engine.errors import InputError
from mcc_engine.method.cam import multiscale_cams
from mcc_engine.method.par import par_refine
from mcc_engine.model.network import MCCNet, ModelConfig, build_model
from mcc_engine.model.weights import read_checkpoint
from mcc_engine.train.device import pick_device

MAX_SIDE: Final = 1024  # longer side the network sees; results are resized back to the image
PAR_SIDE: Final = 512  # PAR runs at most at this size; its effect is on edges, not detail
SHARPNESS: Final = 0.1  # softmax temperature turning refined scores into a confidence
SEG_SCALES: Final = (1.0, 1.25, 1.5)
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

    `rival` is the other source's mask over the same classes (the segmentation head's when the mask
    came from the CAMs, the CAMs' when it came from the head) and `head` the head's own argmax over
    every class; both are None when the segmentation head is untrained.
    """

    mask: np.ndarray
    confidence: np.ndarray
    cam: np.ndarray
    rival: np.ndarray | None = None
    head: np.ndarray | None = None

    def uncertainty(self, labels: Iterable[int]) -> float:
        """U = low_confidence + disagreement + 0.5 missing + 0.25 unnamed (higher is worse)."""
        s = self.signals(labels)
        return float(s["low_confidence"] + W_DISAGREE * s["disagreement"]
                     + W_MISSING * s["missing"] + W_UNNAMED * s["unnamed"])  # fmt: skip

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
    """A trained model ready to propose masks."""

    def __init__(self, model: MCCNet, classes: list[str], device: torch.device, *,
                 head_trained: bool = True) -> None:  # fmt: skip
        self.model = model.eval().to(device)
        self.classes = classes
        self.device = device
        self.bg_threshold = 0.45
        self.head_trained = head_trained

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str = "auto") -> Predictor:
        """Load a run's checkpoint (weights_only) for inference."""
        data = read_checkpoint(path)
        if "model_config" not in data or "model" not in data:
            raise InputError(path, "not an MCC Annotate checkpoint (no model settings inside)")
        model = build_model(ModelConfig.from_dict(data["model_config"]))
        try:
            model.load_state_dict(data["model"], strict=True)
        except RuntimeError as exc:
            raise InputError(
                path, f"weights do not fit the model ({str(exc).splitlines()[0]})"
            ) from None
        return cls(model, list(data["classes"]), pick_device(device),
                   head_trained=head_trained(data))  # fmt: skip

    def _input(self, image: np.ndarray, side: int) -> torch.Tensor:
        height, width = image.shape[:2]
        p = self.model.patch_size
        scale = min(1.0, side / max(height, width))
        size = (max(p, round(height * scale / p) * p), max(p, round(width * scale / p) * p))
        x = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None].float() / 255.0
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        mean = self.model.pixel_mean.view(1, 3, 1, 1)
        std = self.model.pixel_std.view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def predict(self, image: np.ndarray, labels: Iterable[int], *, source: str = "cam",
                refine: str = "par") -> Prediction:  # fmt: skip
        """Mask, confidence and CAMs of one RGB image, over background and its tagged classes."""
        labels = sorted(set(labels))
        k = len(self.classes)
        height, width = image.shape[:2]
        x = self._input(image, MAX_SIDE)
        allowed = torch.zeros(k + 1, dtype=torch.bool, device=self.device)
        allowed[0] = True
        allowed[[i for i in labels if 1 <= i <= k]] = True
        cam, _ = multiscale_cams(self.model, x)
        bg = torch.full_like(cam[:, :1], self.bg_threshold)
        cam_scores = torch.cat([bg, cam], dim=1)
        head = None
        if source == "seg":
            head = self._seg_scores(x)
            scores, rival_scores = head, cam_scores
        elif source == "cam":
            # One flipped pair at scale 1 is enough for a per-image disagreement signal.
            head = self._seg_scores(x, scales=(1.0,)) if self.head_trained else None
            scores, rival_scores = cam_scores, head
        else:
            raise InputError(None, f"unknown source {source!r}; use cam or seg")
        scores = scores.masked_fill(~allowed.view(1, -1, 1, 1), float("-inf"))
        probs = torch.softmax(scores / SHARPNESS if source == "cam" else scores, dim=1)
        if refine in ("par", "crf"):
            small = self._input(image, PAR_SIDE)
            rgb = (
                small * self.model.pixel_std.view(1, 3, 1, 1)
                + self.model.pixel_mean.view(1, 3, 1, 1)
            ) * 255
            probs = par_refine(rgb, probs)
        elif refine != "none":
            raise InputError(None, f"unknown refinement {refine!r}; use par, crf or none")
        probs = F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)[0]
        if refine == "crf":
            probs = torch.from_numpy(dense_crf(image, probs.cpu().numpy())).to(self.device)
        confidence, mask = probs.max(dim=0)
        cam_full = F.interpolate(cam, size=(height, width), mode="bilinear", align_corners=False)[0]
        rival = free = None
        if self.head_trained:
            rival_scores = rival_scores.masked_fill(~allowed.view(1, -1, 1, 1), float("-inf"))
            rival = _argmax_at(rival_scores, (height, width))
            free = _argmax_at(head, (height, width))
        return Prediction(mask=mask.to(torch.uint8).cpu().numpy(),
                          confidence=confidence.float().clamp(0, 1).cpu().numpy(),
                          cam=cam_full.float().cpu().numpy(), rival=rival, head=free)  # fmt: skip

    def _seg_scores(self, x: torch.Tensor, scales=SEG_SCALES) -> torch.Tensor:
        size = x.shape[-2:]
        p = self.model.patch_size
        total = 0.0
        for scale in scales:
            scaled = (round(size[0] * scale / p) * p, round(size[1] * scale / p) * p)
            xs = F.interpolate(x, size=scaled, mode="bilinear", align_corners=False)
            logits = self.model.seg_logits(torch.cat([xs, xs.flip(-1)]))
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
            total = total + logits[:1] + logits[1:].flip(-1)
        return total / (2 * len(scales))


def _argmax_at(scores: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """The class map of scores (1, C, h, w), resized to `size` by nearest neighbour (uint8)."""
    index = scores[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
    return cv2.resize(index, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


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


def dense_crf(image: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The authors' dense CRF (pydensecrf2, the optional 'crf' extra) on probabilities (C, H, W)."""
    try:
        import pydensecrf.densecrf as dcrf
        from pydensecrf.utils import unary_from_softmax
    except ImportError:
        raise InputError(
            None, "--refine crf needs the optional extra: pip install 'mcc-annotate[crf]'"
        ) from None
    c, h, w = probs.shape
    crf = dcrf.DenseCRF2D(w, h, c)
    crf.setUnaryEnergy(unary_from_softmax(np.clip(probs, 1e-8, 1.0)))
    crf.addPairwiseGaussian(sxy=3, compat=3)
    crf.addPairwiseBilateral(sxy=80, srgb=13, rgbim=np.ascontiguousarray(image), compat=10)
    return np.asarray(crf.inference(10), np.float32).reshape(c, h, w)


@dataclass
class InferResult:
    """What a folder run wrote."""

    written: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    cancelled: bool = False


def infer_folder(
    *,
    checkpoint: str | Path,
    data: str | Path | DataFolder,
    out: str | Path,
    source: str = "cam",
    refine: str = "par",
    confidence: str | Path | None = None,
    scores: str | Path | None = None,
    only: set[str] | None = None,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    predictor: Predictor | None = None,
    on_result: Callable[[str, Prediction], None] | None = None,
) -> InferResult:
    """Write a pseudo-mask (and confidence map) for every image of a data folder."""
    folder = data if isinstance(data, DataFolder) else load_data_folder(data)
    predictor = predictor or Predictor.from_checkpoint(checkpoint, device=device)
    if [c.casefold() for c in predictor.classes] != [c.casefold() for c in folder.classes]:
        raise InputError(checkpoint, f"trained on classes {predictor.classes}, but the data folder "
                                     f"has {folder.classes}")  # fmt: skip
    samples = [s for s in folder.samples if only is None or s.rel_path in only]
    result = InferResult()
    for i, sample in enumerate(samples):
        if should_stop is not None and should_stop():
            result.cancelled = True
            break
        pred = predictor.predict(read_image(folder.image_path(sample)), sample.labels,
                                 source=source, refine=refine)  # fmt: skip
        rel = mask_rel_path(sample.rel_path)
        write_mask(Path(out) / rel, pred.mask)
        if confidence is not None:
            write_confidence(Path(confidence) / rel, pred.confidence)
        result.scores[sample.rel_path] = pred.uncertainty(sample.labels)
        if on_result is not None:
            on_result(sample.rel_path, pred)
        result.written += 1
        if progress is not None:
            progress(i + 1, len(samples))
    if scores is not None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["image", "uncertainty"])
        for rel, value in sorted(result.scores.items(), key=lambda kv: -kv[1]):
            writer.writerow([rel, f"{value:.6f}"])
        atomic_write_text(scores, buffer.getvalue())
    return result
