"""Multi-scale class activation maps (method.md step 2) and labels derived from them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mcc_engine.data.masks import IGNORE


def rescale(images: torch.Tensor, scale: float, patch: int) -> torch.Tensor:
    """Images resized by `scale` (bilinear, sides floored as the authors' int(s * H)).

    The encoder then drops the pixels past the last whole patch, as the authors' patch
    convolution does; sides are kept at one patch at least.
    """
    height, width = images.shape[-2:]
    size = (max(patch, int(height * scale)), max(patch, int(width * scale)))
    if size == (height, width):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


def normalise_cam(cam: torch.Tensor) -> torch.Tensor:
    """Per image and class: subtract the min, divide by (max + 1e-5)."""
    flat = cam.flatten(2)
    flat = flat - flat.min(dim=-1, keepdim=True).values
    flat = flat / (flat.max(dim=-1, keepdim=True).values + 1e-5)
    return flat.view_as(cam)


def is_deterministic(model) -> bool:
    """True when the encoder has no active dropout or drop-path, so two passes give one result."""
    if not model.training:
        return True
    for m in model.encoder.modules():
        rate = m.p if isinstance(m, torch.nn.Dropout) else getattr(m, "drop_prob", 0.0)
        if float(rate) > 0:
            return False
    return True


@torch.no_grad()
def multiscale_cams(
    model,
    images: torch.Tensor,
    *,
    scales: Sequence[float] = (1.0, 0.5, 1.5),
    main_tokens: tuple[torch.Tensor, torch.Tensor] | None = None,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(final CAM, aux CAM), each (B, K, H, W) in [0, 1], from images and their flips.

    One encoder pass per scale serves the image, its flip, the final and the aux CAM.
    `main_tokens` (final, aux tokens of `images` from the training pass, any grad) lets scale 1.0
    run the flipped images only; callers pass them only when the encoder is deterministic.
    `labels` (B, K multi-hot) limits the upsampling and normalisation to each image's tagged
    classes; its other channels are returned as zeros (for callers that mask the CAM with the
    tags anyway).
    """
    b, _, height, width = images.shape
    if labels is not None:
        slots, tagged = tagged_slots(labels)
        pick = torch.cat([slots, slots])[:, :, None, None]  # the flipped half: the same images
    total = total_aux = None
    for scale in scales:
        x = rescale(images, scale, model.patch_size)
        if main_tokens is not None and x is images:
            enc = model.encode(x.flip(-1))
            token_sets = [
                torch.cat([known.detach(), new])
                for known, new in zip(main_tokens, (enc.tokens, enc.aux_tokens))
            ]
        else:
            enc = model.encode(torch.cat([x, x.flip(-1)], dim=0))
            token_sets = [enc.tokens, enc.aux_tokens]
        cams = []
        for tokens, aux in zip(token_sets, (False, True)):
            cam = model.cam_from_tokens(tokens, aux=aux).float()
            if labels is not None:
                cam = torch.gather(cam, 1, pick.expand(-1, -1, *cam.shape[-2:]))
            cam = F.interpolate(cam, size=(height, width), mode="bilinear", align_corners=False)
            cams.append(F.relu(torch.maximum(cam[:b], cam[b:].flip(-1))))
        total = cams[0] if total is None else total + cams[0]
        total_aux = cams[1] if total_aux is None else total_aux + cams[1]
    if labels is None:
        return normalise_cam(total), normalise_cam(total_aux)
    index = slots[:, :, None, None].expand(-1, -1, height, width)
    keep = tagged[:, :, None, None]
    return tuple(
        cam.new_zeros(b, labels.shape[1], height, width).scatter_(
            1, index, normalise_cam(cam) * keep
        )
        for cam in (total, total_aux)
    )


def tagged_slots(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's tagged classes, ascending, padded to the most tags of the batch.

    Returns (classes (B, M) long, tagged (B, M) bool); padded slots hold distinct untagged classes
    and are False in `tagged`.
    """
    most = int(labels.sum(dim=1).max()) if labels.numel() else 0
    order = torch.argsort((labels <= 0).to(torch.int8), dim=1, stable=True)[:, :most]
    return order, torch.gather(labels, 1, order) > 0


def multiscale_cam(
    model, images: torch.Tensor, *, scales: Sequence[float] = (1.0, 0.5, 1.5), aux: bool = False
) -> torch.Tensor:
    """The final (or aux) multi-scale CAM (B, K, H, W) in [0, 1]."""
    cam, cam_aux = multiscale_cams(model, images, scales=scales)
    return cam_aux if aux else cam


def cam_to_mask(cam: torch.Tensor, labels: torch.Tensor, *, background: float) -> torch.Tensor:
    """(B, h, w) long: the tagged argmax class, background where the tagged max <= `background`.

    The authors' CAM pseudo-label tool (cam_to_label without a box, threshold 0.5).
    """
    value, index = (cam * labels[:, :, None, None]).max(dim=1)
    return torch.where(value <= background, torch.zeros_like(index), index + 1)


def box_mask(box: torch.Tensor, size: tuple[int, int], *, stride: int = 1) -> torch.Tensor:
    """(B, h, w) bool, True inside each (y0, x0, y1, x1) pixel box, on a grid of `stride` pixels."""
    h, w = size
    ys = torch.arange(h, device=box.device).view(1, h, 1)
    xs = torch.arange(w, device=box.device).view(1, 1, w)
    y0 = (box[:, 0] // stride).view(-1, 1, 1)
    x0 = (box[:, 1] // stride).view(-1, 1, 1)
    y1 = ((box[:, 2] + stride - 1) // stride).view(-1, 1, 1)
    x1 = ((box[:, 3] + stride - 1) // stride).view(-1, 1, 1)
    return (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)


def cam_to_label(
    cam: torch.Tensor,
    labels: torch.Tensor,
    *,
    low: float,
    high: float,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, h, w) long: background where the tagged max <= low, argmax class where > high.

    Between the thresholds, and outside `valid`, the label is 255 (ignore): the authors'
    cam_to_label with ignore_mid, whose background threshold has no effect then.
    """
    tagged = cam * labels[:, :, None, None]
    value, index = tagged.max(dim=1)
    out = torch.full_like(index, IGNORE)
    out[value > high] = index[value > high] + 1
    out[value <= low] = 0
    if valid is not None:
        out[~valid] = IGNORE
    return out
