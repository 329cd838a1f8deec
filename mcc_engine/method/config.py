"""The method's hyper-parameters, with the paper's values as defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class MethodConfig:
    """Every setting of one MCC training step (method.md, steps 2-11)."""

    cam_scales: tuple[float, ...] = (1.0, 0.5, 1.5)
    low_threshold: float = 0.25
    high_threshold: float = 0.7
    n_local: int = 8
    mask_cell: int = 4
    hide_probability: float = 0.95
    negative_ratio: float = 0.2
    aux_cam_fraction: float = 0.6
    temperature: float = 0.5
    # L2-normalise projector outputs in the MCC loss (a departure; False is the authors' raw dot).
    mcc_cosine: bool = False
    ema_momentum: float = 0.9
    seg_warmup_fraction: float = 0.1
    # Share of iterations trained on the classification losses alone before MCC, affinity,
    # segmentation and regulariser join (a departure for encoders trained from scratch, whose
    # early CAMs are noise; 0 is the paper).
    cam_warmup_fraction: float = 0.0
    par_dilations: tuple[int, ...] = (1, 2, 4, 8, 12, 24)
    par_iters: int = 10
    reg_weight_inside: float = 1e-7
    reg_sigma_rgb: float = 15.0
    reg_sigma_xy: float = 100.0
    w_cls: float = 1.0
    w_cls_aux: float = 1.0
    w_aff: float = 0.2
    w_mcc: float = 0.5
    w_seg: float = 0.1
    w_reg: float = 0.05
    # Affinity and segmentation losses as the mean of per-image losses: the authors ran one image
    # per GPU (4 GPUs), so theirs are per image. False pools pixels and pairs over the batch, as
    # their loss functions do for several images on one device.
    per_image_losses: bool = True
    # Quirks of the authors' code, kept (True) for fidelity; presets for our own use turn them off.
    # The aux pseudo-label's real-pixel box is given in pixels on the token grid (step 8).
    quirk_token_box_pixels: bool = True
    # The main view's own flip does not mirror the real-pixel box (step 1).
    quirk_box_unflipped: bool = True
    # The local source flips on its own, mirrored against the main view's masks and flags half
    # the time (step 1).
    quirk_local_flip: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MethodConfig:
        """The inverse of to_dict; settings this version does not know are ignored."""
        kinds = {f.name: f.type for f in fields(cls)}
        return cls(
            **{
                k: tuple(v) if "tuple" in str(kinds[k]) else v
                for k, v in data.items()
                if k in kinds
            }
        )

    def seg_active(self, step: int, total_steps: int) -> bool:
        """Whether the segmentation and regulariser losses count at 0-based iteration `step`.

        The authors: from n_iter > 2000 of 20k (strictly), and here not before the CAM warm-up ends.
        """
        past_warmup = step > int(self.seg_warmup_fraction * total_steps)
        return past_warmup and self.contrast_active(step, total_steps)

    def contrast_active(self, step: int, total_steps: int) -> bool:
        """Whether the MCC and affinity losses count at this step (after the CAM warm-up)."""
        return step >= int(self.cam_warmup_fraction * total_steps)

    def use_aux_cam(self, step: int, total_steps: int) -> bool:
        """Whether the local-view masks follow the aux CAM: n_iter <= 12000 of 20k, then the final."""
        return step <= int(self.aux_cam_fraction * total_steps)
