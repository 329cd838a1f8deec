"""One MCC training step, fast: one encoder pass serves main, teacher and student global views,
masked local views run only their visible tokens, and nothing loops over images or views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import torch
import torch.nn.functional as F
from torch import nn

from mcc_engine.data.masks import IGNORE
from mcc_engine.method.cam import (
    box_mask,
    cam_to_label,
    is_deterministic,
    multiscale_cams,
    tagged_slots,
)
from mcc_engine.method.config import MethodConfig
from mcc_engine.method.crf_energy import crf_energy_loss
from mcc_engine.method.local_masks import roi_levels, sample_visible, view_flags
from mcc_engine.method.losses import (
    affinity_loss,
    classification_loss,
    mcc_loss,
    segmentation_loss,
)
from mcc_engine.method.packed_views import encode_visible_cls
from mcc_engine.method.par import par_refine

# Weight of the token-CAM loss on corrected images (a product addition, not part of MCC).
CAM_MASK_WEIGHT: Final = 1.0


@dataclass
class StepOutput:
    """The loss to back-propagate and its parts as floats (weighted total under 'total')."""

    loss: torch.Tensor
    parts: dict[str, float]


def denormalise(model, images: torch.Tensor) -> torch.Tensor:
    """Normalised images back to 0-255 RGB in float (the regulariser's appearance)."""
    mean = model.pixel_mean.view(1, 3, 1, 1).to(images)
    std = model.pixel_std.view(1, 3, 1, 1).to(images)
    return (images * std + mean) * 255.0


def denormalise_uint8(model, images: torch.Tensor) -> torch.Tensor:
    """Normalised images back to 0-1 RGB through 8 bits, truncated (the authors' PAR input).

    The authors compute x * (255 std) + 255 mean in float32 and cast to uint8, which truncates:
    round-off sends a few exact values one step down. The same constants are used here so PAR
    sees the same pixels.
    """
    mean, std = model.mean_std
    std255 = torch.tensor([v * 255 for v in std], dtype=torch.float32)
    mean255 = torch.tensor([v * 255 for v in mean], dtype=torch.float32)
    scaled = images.float() * std255.view(1, 3, 1, 1).to(images.device)
    scaled = scaled + mean255.view(1, 3, 1, 1).to(images.device)
    return scaled.clamp(0, 255).to(torch.uint8).float() / 255.0


def seg_pseudo_labels(
    cam: torch.Tensor,
    labels: torch.Tensor,
    images: torch.Tensor,
    valid: torch.Tensor,
    cfg: MethodConfig,
) -> torch.Tensor:
    """Segmentation pseudo-labels (B, H, W) from the multi-scale CAM (method.md step 9), batched.

    `images` (B, 3, H, W) in any value range (PAR divides colour differences by their spread).
    Each image keeps background plus its own tagged classes, padded to the batch's most tags with
    -inf slots: the softmax over those equals the per-image softmax over background and tags, and
    padded slots stay zero through PAR (linear per channel). Both thresholds' maps share one PAR
    pass.
    """
    height, width = cam.shape[-2:]
    half = (height // 2, width // 2)
    slots, tagged = tagged_slots(labels)
    keys = torch.cat([torch.zeros_like(slots[:, :1]), slots + 1], dim=1)  # (B, 1 + M) class ids
    img_half = F.interpolate(images, size=half, mode="bilinear", align_corners=False)
    cam = torch.gather(cam, 1, slots[:, :, None, None].expand(-1, -1, height, width))
    cam_half = F.interpolate(cam, size=half, mode="bilinear", align_corners=False)
    allowed = torch.cat([torch.ones_like(tagged[:, :1]), tagged], dim=1)[:, :, None, None]
    maps = []
    for threshold in (cfg.high_threshold, cfg.low_threshold):
        with_bg = torch.cat([torch.full_like(cam_half[:, :1], threshold), cam_half], dim=1)
        maps.append(with_bg.masked_fill(~allowed, float("-inf")).softmax(dim=1))
    refined = par_refine(
        img_half, torch.cat(maps, dim=1), dilations=cfg.par_dilations, iters=cfg.par_iters
    )
    refined = F.interpolate(refined, size=(height, width), mode="bilinear", align_corners=False)
    # max().indices is argmax (first maximum on ties), and much faster over the channel axis.
    high, low = (
        torch.gather(keys, 1, part.max(dim=1).indices.flatten(1)).view(-1, height, width)
        for part in refined.split(keys.shape[1], dim=1)
    )
    target = high.clone()
    target[high == 0] = IGNORE
    target[(high == 0) & (low == 0)] = 0
    target[~valid] = IGNORE
    return target


def mask_to_token_labels(mask: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, h, w): a token takes its patch's class when the whole patch has that one class."""
    b, height, width = mask.shape
    cells = mask.view(b, height // patch, patch, width // patch, patch)
    low = cells.amin(dim=(2, 4))
    high = cells.amax(dim=(2, 4))
    return torch.where((low == high) & (low != IGNORE), low, torch.full_like(low, IGNORE))


def mask_roi_levels(mask: torch.Tensor, patch: int, *, low: float, high: float) -> torch.Tensor:
    """(B, h, w) ROI levels 0 / 1 / 2 of corrected masks, -1 where a patch has no labelled pixel."""
    # A patch's share of labelled pixels in a class stands in for the tagged CAM's max, and takes
    # the same thresholds, so a corrected image's local views are flagged by its true foreground.
    labelled = (mask != IGNORE).float()
    fg = labelled * (mask != 0).float()
    count = F.avg_pool2d(labelled[:, None], patch)[:, 0]
    share = F.avg_pool2d(fg[:, None], patch)[:, 0] / count.clamp_min(1e-6)
    levels = torch.ones_like(share)
    levels[share <= low] = 0
    levels[share >= high] = 2
    return levels.masked_fill(count == 0, -1)


def mask_cam_loss(model, tokens, aux_tokens, mask, labels) -> torch.Tensor:
    """Token CAMs (final and aux) of corrected images against their masks, as binary labels."""
    # Every tagged class's CAM logit at a single-class patch is pushed up where the patch is that
    # class and down elsewhere; foreground and background tokens weigh half each, as in the seg
    # loss. This trains the CAMs' background / foreground split on the images people corrected.
    target = mask_to_token_labels(mask, model.patch_size)
    classes = torch.arange(1, labels.shape[1] + 1, device=mask.device).view(1, -1, 1, 1)
    inside = target[:, None] == classes
    known = (target != IGNORE)[:, None] & labels.bool()[:, :, None, None]
    terms = []
    for chosen, aux in ((tokens, False), (aux_tokens, True)):
        logits = model.cam_from_tokens(chosen, aux=aux).float()
        bce = F.binary_cross_entropy_with_logits(logits, inside.float(), reduction="none")
        for part in (known & inside, known & ~inside):
            terms.append((bce * part).sum() / part.sum() if part.any() else bce.sum() * 0.0)
    return sum(terms) / 4


def token_box(box: torch.Tensor, grid: tuple[int, int], patch: int, cfg: MethodConfig):
    """(B, h, w) bool: the tokens inside each image's real-pixel box.

    With `quirk_token_box_pixels` the pixel box slices the token grid as is, as the authors'
    training loop does (a top or left offset of y0 pixels removes y0 token rows).
    """
    return box_mask(box, grid, stride=1 if cfg.quirk_token_box_pixels else patch)


def guide_cam(cam: torch.Tensor, cam_aux: torch.Tensor, grid, *, step, total_steps, cfg):
    """The CAM that flags the local views, on the token grid: aux early, final late (bicubic)."""
    chosen = cam_aux if cfg.use_aux_cam(step, total_steps) else cam
    return F.interpolate(chosen, size=grid, mode="bicubic", align_corners=False)


def contrast_outputs(model, global_cls: torch.Tensor, local: torch.Tensor, visible: torch.Tensor):
    """(teacher (B, 2, C), student (B, 2 + V, C)) projector outputs of the two global views' CLS
    (B, 2, D) and of the masked local views (each runs only its visible tokens).

    The teacher sees the CLS detached (the authors' teacher shares the encoder without gradient).
    """
    with torch.no_grad():
        teacher = model.proj_head_t(global_cls.detach())
    local_cls = encode_visible_cls(model, local, visible)
    return teacher, model.proj_head(torch.cat([global_cls, local_cls], dim=1))


def train_step(
    model,
    batch: dict[str, torch.Tensor],
    *,
    step: int,
    total_steps: int,
    cfg: MethodConfig,
    generator: torch.Generator | None = None,
    visible: torch.Tensor | None = None,
) -> StepOutput:
    """Every loss of one MCC step on a batch; the teacher projector's EMA is updated first.

    `step` is the 0-based iteration index. `visible` (B, V, h, w) replaces the local-view mask
    draw (to replay a recorded one).
    """
    x, g2, local = batch["image"], batch["global2"], batch["local"]
    labels, box = batch["labels"].float(), batch["box"]
    b, _, height, width = x.shape
    p = model.patch_size
    h, w = height // p, width // p
    model.update_teacher(cfg.ema_momentum)
    contrast_on = cfg.contrast_active(step, total_steps)
    seg_on = cfg.seg_active(step, total_steps)
    if not (contrast_on and (cfg.w_mcc or cfg.w_aff)) and not (seg_on and (cfg.w_seg or cfg.w_reg)):
        return _classification_alone(model, batch, cfg)  # every other loss weighs 0 now

    # The training pass runs first: its tokens of x (detached) are the scale-1.0 CAM's unflipped
    # half, so that pass is not repeated (the same numbers when nothing in the encoder is random).
    enc = model.encode(torch.cat([x, g2], dim=0))
    tokens, aux_tokens = enc.tokens[:b], enc.aux_tokens[:b]
    shared = (tokens, aux_tokens) if is_deterministic(model) else None
    # Every use of the CAMs masks them with the tags, so only each image's tagged classes are
    # upsampled and normalised.
    cam, cam_aux = multiscale_cams(
        model, x, scales=cfg.cam_scales, main_tokens=shared, labels=labels
    )
    guide = guide_cam(cam, cam_aux, (h, w), step=step, total_steps=total_steps, cfg=cfg)
    levels = roi_levels(guide, labels, low=cfg.low_threshold, high=cfg.high_threshold)
    has_mask = batch["has_mask"].bool()
    if bool(has_mask.any()):  # corrected images: the mask's foreground split replaces the CAM's
        known = mask_roi_levels(batch["mask"], p, low=cfg.low_threshold, high=cfg.high_threshold)
        levels = torch.where(has_mask[:, None, None] & (known >= 0), known, levels)
    if visible is None:
        visible = sample_visible(
            b,
            n_views=cfg.n_local,
            grid=(h, w),
            cell=cfg.mask_cell,
            hide_probability=cfg.hide_probability,
            generator=generator,
            device=x.device,
        )
    flags = view_flags(visible, levels, ratio=cfg.negative_ratio)

    global_cls = torch.stack([enc.cls[:b], enc.cls[b:]], dim=1)
    teacher, student = contrast_outputs(model, global_cls, local, visible)
    positive = torch.cat([torch.ones_like(flags[:, :2]), flags], dim=1)

    parts = {
        "cls": classification_loss(model.classify(tokens), labels),
        "cls_aux": classification_loss(model.classify(aux_tokens, aux=True), labels),
        "mcc": mcc_loss(
            teacher, student, positive, temperature=cfg.temperature, cosine=cfg.mcc_cosine
        ),
    }
    aux_grid = F.interpolate(cam_aux, size=(h, w), mode="bilinear", align_corners=False)
    token_labels = cam_to_label(
        aux_grid,
        labels,
        low=cfg.low_threshold,
        high=cfg.high_threshold,
        valid=token_box(box, (h, w), p, cfg),
    )
    if bool(has_mask.any()):
        corrected = mask_to_token_labels(batch["mask"], p)
        token_labels = torch.where(has_mask[:, None, None], corrected, token_labels)
        parts["cam_mask"] = mask_cam_loss(
            model,
            tokens[has_mask],
            aux_tokens[has_mask],
            batch["mask"][has_mask],
            labels[has_mask],
        )
    parts["aff"] = affinity_loss(tokens, token_labels, per_image=cfg.per_image_losses)

    if seg_on:
        seg = F.interpolate(
            model.decoder(tokens), size=(height, width), mode="bilinear", align_corners=False
        )
        valid = box_mask(box, (height, width))
        target = seg_pseudo_labels(cam, labels, denormalise_uint8(model, x), valid, cfg)
        target = torch.where(has_mask[:, None, None], batch["mask"], target)
        parts["seg"] = segmentation_loss(seg, target, per_image=cfg.per_image_losses)
        # The gate reads the seg pseudo-labels (255 = ignore, 1 there); valid is the box.
        parts["reg"] = crf_energy_loss(
            denormalise(model, x),
            seg.float().softmax(dim=1),
            target,
            valid,
            sigma_rgb=cfg.reg_sigma_rgb,
            sigma_xy=cfg.reg_sigma_xy,
            weight=cfg.reg_weight_inside,
        )
    return _combine(parts, cfg, seg_on=seg_on, n_positive=flags.sum(), contrast_on=contrast_on)


def _classification_alone(model, batch, cfg: MethodConfig) -> StepOutput:
    """The CAM warm-up: only the classification losses weigh, so nothing else is computed."""
    labels = batch["labels"].float()
    enc = model.encode(batch["image"])
    parts = {
        "cls": classification_loss(model.classify(enc.tokens), labels),
        "cls_aux": classification_loss(model.classify(enc.aux_tokens, aux=True), labels),
    }
    has_mask = batch["has_mask"].bool()
    if bool(has_mask.any()):
        parts["cam_mask"] = mask_cam_loss(
            model,
            enc.tokens[has_mask],
            enc.aux_tokens[has_mask],
            batch["mask"][has_mask],
            labels[has_mask],
        )
    return _combine(parts, cfg, seg_on=False, n_positive=0, contrast_on=False)


def _combine(
    parts, cfg: MethodConfig, *, seg_on: bool, n_positive, contrast_on: bool = True
) -> StepOutput:
    on = 1.0 if contrast_on else 0.0
    weights = {
        "cls": cfg.w_cls,
        "cls_aux": cfg.w_cls_aux,
        "aff": on * cfg.w_aff,
        "mcc": on * cfg.w_mcc,
        "seg": cfg.w_seg if seg_on else 0.0,
        "reg": cfg.w_reg if seg_on else 0.0,
        "cam_mask": CAM_MASK_WEIGHT,
    }
    total = sum(weights[name] * value for name, value in parts.items())
    floats = {name: float(value.detach()) for name, value in parts.items()}
    for name in ("mcc", "aff", "seg", "reg", "cam_mask"):  # log.csv has a column for each
        floats.setdefault(name, 0.0)
    floats["total"] = float(total.detach())
    floats["positive_locals"] = float(n_positive)
    return StepOutput(loss=total, parts=floats)


class MCCObjective(nn.Module):
    """The step as a module, so DistributedDataParallel can wrap it and sync its gradients."""

    def __init__(self, model: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg

    def forward(self, batch, *, step: int, total_steps: int, generator=None) -> StepOutput:
        """Run train_step on the wrapped model."""
        return train_step(
            self.model,
            batch,
            step=step,
            total_steps=total_steps,
            cfg=self.cfg,
            generator=generator,
        )
