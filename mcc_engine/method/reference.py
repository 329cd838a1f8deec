"""The direct, faithful MCC step, written the way the authors' code runs it.

Separate encoder passes for the main image, the teacher and the student global views; masked
local views at full length with an attention mask; per-image loops for flags, the MCC loss,
affinity labels and segmentation labels; segmentation labels, PAR and the regulariser computed
even while their weight is 0. Tests and benchmarks compare `train_step` against it; training
never uses it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mcc_engine.data.masks import IGNORE
from mcc_engine.method.cam import normalise_cam
from mcc_engine.method.config import MethodConfig
from mcc_engine.method.crf_energy import crf_energy_loss
from mcc_engine.method.local_masks import sample_visible
from mcc_engine.method.losses import classification_loss, segmentation_loss
from mcc_engine.method.par import par_refine
from mcc_engine.method.step import (
    StepOutput,
    _combine,
    denormalise,
    mask_cam_loss,
    mask_roi_levels,
    mask_to_token_labels,
)


@torch.no_grad()
def _cams_like_the_authors(
    model, images: torch.Tensor, scales
) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' multi_scale_cam2: per scale one pass over image and flip gives both CAMs."""
    b, _, height, width = images.shape
    p = model.patch_size
    final, aux = [], []
    for scale in scales:
        size = (max(p, round(height * scale / p) * p), max(p, round(width * scale / p) * p))
        x = images if scale == 1.0 else F.interpolate(images, size=size, mode="bilinear",
                                                      align_corners=False)  # fmt: skip
        enc = model.encode(torch.cat([x, x.flip(-1)], dim=0))
        for out, tokens, is_aux in ((final, enc.tokens, False), (aux, enc.aux_tokens, True)):
            cam = model.cam_from_tokens(tokens, aux=is_aux)
            cam = F.interpolate(cam, size=(height, width), mode="bilinear", align_corners=False)
            out.append(F.relu(torch.max(cam[:b], cam[b:].flip(-1))))
    return normalise_cam(torch.stack(final).sum(0)), normalise_cam(torch.stack(aux).sum(0))


def _label_from_cam(cam, label_vec, low, high, box, stride):
    h, w = cam.shape[-2:]
    best, index = (cam * label_vec[:, None, None]).max(dim=0)
    out = torch.full((h, w), IGNORE, dtype=torch.long, device=cam.device)
    out[best >= high] = index[best >= high] + 1
    out[best <= low] = 0
    y0, x0 = int(box[0]) // stride, int(box[1]) // stride
    y1, x1 = -(-int(box[2]) // stride), -(-int(box[3]) // stride)
    inside = torch.zeros_like(out, dtype=torch.bool)
    inside[y0:y1, x0:x1] = True
    out[~inside] = IGNORE
    return out


def _affinity_one_by_one(tokens, token_labels):
    """Pair labels built per image, as the authors' label_to_aff_mask does."""
    pos_sum = neg_sum = tokens.sum() * 0.0
    pos_n = neg_n = 0
    for i in range(tokens.shape[0]):
        f = F.normalize(tokens[i].float().flatten(1), dim=0, eps=1e-8)
        cos = (f.T @ f).abs()
        lab = token_labels[i].flatten()
        rep = lab[None, :].repeat(lab.numel(), 1)
        pair = (rep == rep.T).long()
        pair[:, lab == IGNORE] = IGNORE
        pair[lab == IGNORE, :] = IGNORE
        pair.fill_diagonal_(IGNORE)
        pos_sum = pos_sum + (cos * (pair == 1)).sum()
        neg_sum = neg_sum + (cos * (pair == 0)).sum()
        pos_n += int((pair == 1).sum())
        neg_n += int((pair == 0).sum())
    pos_term = 1.0 - pos_sum / pos_n if pos_n else pos_sum
    neg_term = neg_sum / neg_n if neg_n else neg_sum
    return 0.5 * pos_term + 0.5 * neg_term


def _seg_labels_one_by_one(cam, labels, images255, box, cfg):
    b, _, height, width = cam.shape
    half = (height // 2, width // 2)
    out = torch.full((b, height, width), IGNORE, dtype=torch.long, device=cam.device)
    for i in range(b):
        keys = torch.cat([torch.zeros(1, dtype=torch.long, device=cam.device),
                          torch.nonzero(labels[i])[:, 0] + 1])  # fmt: skip
        img = F.interpolate(images255[i : i + 1], size=half, mode="bilinear", align_corners=False)
        results = []
        for threshold in (cfg.high_threshold, cfg.low_threshold):
            bg = torch.full((1, 1, height, width), threshold, device=cam.device)
            with_bg = torch.cat([bg, cam[i : i + 1]], dim=1)
            with_bg = F.interpolate(with_bg, size=half, mode="bilinear", align_corners=False)
            probs = with_bg[:, keys].softmax(dim=1)
            refined = par_refine(img, probs, dilations=cfg.par_dilations, iters=cfg.par_iters)
            refined = F.interpolate(refined, size=(height, width), mode="bilinear",
                                    align_corners=False)  # fmt: skip
            results.append(keys[refined.argmax(dim=1)[0]])
        high, low = results
        label = high.clone()
        label[high == 0] = IGNORE
        label[(high == 0) & (low == 0)] = 0
        y0, x0, y1, x1 = (int(v) for v in box[i])
        out[i, y0:y1, x0:x1] = label[y0:y1, x0:x1]
    return out


def reference_step(
    model,
    batch: dict[str, torch.Tensor],
    *,
    step: int,
    total_steps: int,
    cfg: MethodConfig,
    generator: torch.Generator | None = None,
) -> StepOutput:
    """The faithful formulation of one MCC step; same signature and result as train_step."""
    x, g2, local = batch["image"], batch["global2"], batch["local"]
    labels, box = batch["labels"].float(), batch["box"]
    b, _, height, width = x.shape
    p = model.patch_size
    h, w = height // p, width // p
    n = model.num_prefix
    model.update_teacher(cfg.ema_momentum)

    cam, cam_aux = _cams_like_the_authors(model, x, cfg.cam_scales)
    visible = sample_visible(b, n_views=cfg.n_local, grid=(h, w), cell=cfg.mask_cell,
                             hide_probability=cfg.hide_probability, generator=generator,
                             device=x.device)  # fmt: skip
    guide = cam_aux if cfg.use_aux_cam(step, total_steps) else cam
    guide = F.interpolate(guide, size=(h, w), mode="bilinear", align_corners=False)
    flags = torch.zeros(b, cfg.n_local, dtype=torch.bool, device=x.device)
    for i in range(b):
        roi = (guide[i] * labels[i][:, None, None]).max(dim=0).values
        levels = torch.ones_like(roi)
        levels[roi <= cfg.low_threshold] = 0
        levels[roi >= cfg.high_threshold] = 2
        if batch["has_mask"][i]:
            known = mask_roi_levels(batch["mask"][i : i + 1], p, low=cfg.low_threshold,
                                    high=cfg.high_threshold)[0]  # fmt: skip
            levels = torch.where(known >= 0, known, levels)
        for v in range(cfg.n_local):
            count = visible[i, v].sum()
            flags[i, v] = (levels * visible[i, v]).sum() > cfg.negative_ratio * count

    main = model(x)
    with torch.no_grad():
        teacher = torch.stack([model.proj_head_t(model.encode(view).cls) for view in (x, g2)], 1)
    student_global = [model.proj_head(model.encode(view).cls) for view in (x, g2)]
    student_local = []
    embedded = model.embed(local)
    for v in range(cfg.n_local):
        keep = torch.cat([torch.ones(b, n, dtype=torch.bool, device=x.device),
                          visible[:, v].flatten(1)], dim=1)  # fmt: skip
        final, _ = model.run_blocks(embedded, attn_mask=keep[:, None, None, :])
        student_local.append(model.proj_head(final[:, 0]))
    student = torch.stack(student_global + student_local, dim=1)

    mcc_terms = []
    for i in range(b):
        positive = [True, True] + [bool(f) for f in flags[i]]
        t_all, s_all = teacher[i].float(), student[i].float()
        if cfg.mcc_cosine:
            t_all, s_all = F.normalize(t_all, dim=-1), F.normalize(s_all, dim=-1)
        image_loss = 0.0
        for t in range(t_all.shape[0]):
            sims = [torch.exp(t_all[t] @ s_all[v] / cfg.temperature) for v in range(len(positive))]
            neg = sum((s for s, pos in zip(sims, positive) if not pos), torch.zeros(()))
            for s, pos in zip(sims, positive):
                if pos:
                    image_loss = image_loss - torch.log(s / (s + neg + 1e-4))
            image_loss = image_loss - torch.log(1.0 / (1.0 + neg + 1e-4))
        mcc_terms.append(image_loss / (t_all.shape[0] * sum(positive)))
    parts = {
        "cls": classification_loss(main["logits"], labels),
        "cls_aux": classification_loss(main["aux_logits"], labels),
        "mcc": torch.stack(mcc_terms).mean(),
    }

    aux_grid = F.interpolate(cam_aux, size=(h, w), mode="bilinear", align_corners=False)
    token_labels = torch.stack([
        _label_from_cam(aux_grid[i], labels[i], cfg.low_threshold, cfg.high_threshold, box[i], p)
        for i in range(b)
    ])  # fmt: skip
    corrected = mask_to_token_labels(batch["mask"], p)
    for i in range(b):
        if batch["has_mask"][i]:
            token_labels[i] = corrected[i]
    has_mask = batch["has_mask"].bool()
    if bool(has_mask.any()):
        parts["cam_mask"] = mask_cam_loss(model, main["tokens"][has_mask],
                                          main["aux_tokens"][has_mask], batch["mask"][has_mask],
                                          labels[has_mask])  # fmt: skip
    parts["aff"] = _affinity_one_by_one(main["tokens"], token_labels)

    seg = F.interpolate(main["seg"], size=(height, width), mode="bilinear", align_corners=False)
    images255 = denormalise(model, x)
    target = _seg_labels_one_by_one(cam, labels, images255, box, cfg)
    for i in range(b):
        if batch["has_mask"][i]:
            target[i] = batch["mask"][i]
    valid = torch.zeros(b, height, width, dtype=torch.bool, device=x.device)
    for i in range(b):
        y0, x0, y1, x1 = (int(v) for v in box[i])
        valid[i, y0:y1, x0:x1] = True
    parts["seg"] = segmentation_loss(seg, target)
    # The gate reads the seg pseudo-labels (255 = ignore, 1 there); valid is the box.
    parts["reg"] = crf_energy_loss(
        images255,
        seg.float().softmax(dim=1),
        target,
        valid,
        sigma_rgb=cfg.reg_sigma_rgb,
        sigma_xy=cfg.reg_sigma_xy,
        weight=cfg.reg_weight_inside,
    )
    return _combine(parts, cfg, seg_on=cfg.seg_active(step, total_steps), n_positive=flags.sum(),
                    contrast_on=cfg.contrast_active(step, total_steps))  # fmt: skip
