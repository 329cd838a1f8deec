"""The direct, faithful MCC step, written the way the authors' code runs it.

Separate encoder passes for the main image, the teacher and the student global views; masked
local views at full length with an attention mask; per-image loops for flags, the MCC loss,
affinity labels and segmentation labels; segmentation labels, PAR and the regulariser computed
even while their weight is 0. It reproduces the authors' own outputs (tests/engine/
test_authors_golden.py) and the fast `train_step` must equal it; training never uses it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mcc_engine.data.masks import IGNORE
from mcc_engine.method.cam import normalise_cam, rescale
from mcc_engine.method.config import MethodConfig
from mcc_engine.method.crf_energy import crf_energy_loss
from mcc_engine.method.local_masks import sample_visible
from mcc_engine.method.losses import classification_loss
from mcc_engine.method.par import par_refine
from mcc_engine.method.step import (
    StepOutput,
    _combine,
    denormalise,
    denormalise_uint8,
    guide_cam,
    mask_cam_loss,
    mask_roi_levels,
    mask_to_token_labels,
    token_box,
)


@torch.no_grad()
def _multi_scale_cam(model, images: torch.Tensor, scales) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' multi_scale_cam: per scale, image and flip in one pass, max, ReLU, sum."""
    b, _, height, width = images.shape
    final, aux = [], []
    for scale in scales:
        x = rescale(images, scale, model.patch_size)
        enc = model.encode(torch.cat([x, x.flip(-1)], dim=0))
        for out, tokens, is_aux in ((final, enc.tokens, False), (aux, enc.aux_tokens, True)):
            cam = model.cam_from_tokens(tokens, aux=is_aux)
            cam = F.interpolate(cam, size=(height, width), mode="bilinear", align_corners=False)
            out.append(F.relu(torch.max(cam[:b], cam[b:].flip(-1))))
    return normalise_cam(torch.stack(final).sum(0)), normalise_cam(torch.stack(aux).sum(0))


def _label_from_cam(cam, label_vec, low, high):
    """One image's cam_to_label with ignore_mid (no box)."""
    best, index = (cam * label_vec[:, None, None]).max(dim=0)
    out = index + 1
    out[best <= high] = IGNORE
    out[best <= low] = 0
    return out


def _affinity(tokens, token_labels, per_image: bool):
    """label_to_aff_mask + get_masked_aff_loss, per image or pooled over the batch."""
    sums = []
    for i in range(tokens.shape[0]):
        f = F.normalize(tokens[i].float().flatten(1), dim=0, eps=1e-8)
        cos = (f.T @ f).abs()
        lab = token_labels[i].flatten()
        rep = lab[None, :].repeat(lab.numel(), 1)
        pair = (rep == rep.T).long()
        pair[:, lab == IGNORE] = IGNORE
        pair[lab == IGNORE, :] = IGNORE
        pair.fill_diagonal_(IGNORE)
        sums.append(
            [
                (cos * (pair == 1)).sum(),
                (pair == 1).sum(),
                (cos * (pair == 0)).sum(),
                (pair == 0).sum(),
            ]
        )
    groups = [[s] for s in sums] if per_image else [sums]
    losses = []
    for group in groups:
        pos, n_pos, neg, n_neg = (sum(s[k] for s in group) for k in range(4))
        losses.append(0.5 * (1 - pos / (n_pos + 1)) + 0.5 * neg / (n_neg + 1))
    return torch.stack(losses).mean()


def _seg_loss(pred, label, per_image: bool):
    """get_seg_loss, per image or pooled; an empty term counts 0 (the authors' gives NaN)."""
    groups = (
        [(pred[i : i + 1], label[i : i + 1]) for i in range(len(pred))]
        if per_image
        else [(pred, label)]
    )
    losses = []
    for p, lab in groups:
        terms = []
        for chosen in (lab == 0, (lab != 0) & (lab != IGNORE)):
            target = torch.where(chosen, lab, torch.full_like(lab, IGNORE))
            terms.append(
                F.cross_entropy(p.float(), target, ignore_index=IGNORE)
                if bool(chosen.any())
                else p.sum() * 0.0
            )
        losses.append(0.5 * (terms[0] + terms[1]))
    return torch.stack(losses).mean()


def _seg_labels_one_by_one(cam, labels, images, box, cfg):
    """refine_cams_with_bkg_v2: per image, background + its tags, softmax, PAR, argmax."""
    b, _, height, width = cam.shape
    half = (height // 2, width // 2)
    small = F.interpolate(images, size=half, mode="bilinear", align_corners=False)
    out = torch.full((b, height, width), IGNORE, dtype=torch.long, device=cam.device)
    for i in range(b):
        keys = torch.cat(
            [
                torch.zeros(1, dtype=torch.long, device=cam.device),
                torch.nonzero(labels[i])[:, 0] + 1,
            ]
        )
        results = []
        for threshold in (cfg.high_threshold, cfg.low_threshold):
            bg = torch.full((1, 1, height, width), threshold, device=cam.device)
            with_bg = torch.cat([bg, cam[i : i + 1] * labels[i][None, :, None, None]], dim=1)
            with_bg = F.interpolate(with_bg, size=half, mode="bilinear", align_corners=False)
            refined = par_refine(
                small[i : i + 1],
                with_bg[:, keys].softmax(dim=1),
                dilations=cfg.par_dilations,
                iters=cfg.par_iters,
            )
            refined = F.interpolate(
                refined, size=(height, width), mode="bilinear", align_corners=False
            )
            results.append(keys[refined.argmax(dim=1)[0]])
        high, low = results
        label = high.clone()
        label[high == 0] = IGNORE
        label[(high == 0) & (low == 0)] = 0
        y0, x0, y1, x1 = (int(v) for v in box[i])
        out[i, y0:y1, x0:x1] = label[y0:y1, x0:x1]
    return out


def _mcc_one_by_one(teacher, student, flags, cfg):
    """MCCLoss with its for-else, per image; float64 so the raw exp does not overflow here."""
    terms = []
    for i in range(teacher.shape[0]):
        positive = [True, True] + [bool(f) for f in flags[i]]
        t_all, s_all = teacher[i].double(), student[i].double()
        if cfg.mcc_cosine:
            t_all, s_all = F.normalize(t_all, dim=-1), F.normalize(s_all, dim=-1)
        loss = 0.0
        for t in range(t_all.shape[0]):
            sims = [torch.exp(t_all[t] @ s_all[v] / cfg.temperature) for v in range(len(positive))]
            neg = sum(
                (s for s, pos in zip(sims, positive) if not pos),
                torch.zeros((), dtype=torch.float64),
            )
            for s, pos in zip(sims, positive):
                if pos:
                    loss = loss - torch.log(s / (s + neg + 1e-4))
            loss = loss - torch.log(1.0 / (1.0 + neg + 1e-4))
        terms.append(loss / t_all.shape[0] / (sum(positive) + 1e-4))
    return torch.stack(terms).mean().float()


def reference_step(
    model,
    batch: dict[str, torch.Tensor],
    *,
    step: int,
    total_steps: int,
    cfg: MethodConfig,
    generator: torch.Generator | None = None,
    visible: torch.Tensor | None = None,
) -> StepOutput:
    """The faithful formulation of one MCC step; same signature and result as train_step."""
    x, g2, local = batch["image"], batch["global2"], batch["local"]
    labels, box = batch["labels"].float(), batch["box"]
    b, _, height, width = x.shape
    p = model.patch_size
    h, w = height // p, width // p
    n = model.num_prefix

    cam, cam_aux = _multi_scale_cam(model, x, cfg.cam_scales)
    guide = guide_cam(cam, cam_aux, (h, w), step=step, total_steps=total_steps, cfg=cfg)
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
    flags = torch.zeros(b, cfg.n_local, dtype=torch.bool, device=x.device)
    for i in range(b):
        roi = (guide[i] * labels[i][:, None, None]).max(dim=0).values
        levels = torch.ones_like(roi)
        levels[roi <= cfg.low_threshold] = 0
        levels[roi >= cfg.high_threshold] = 2
        if batch["has_mask"][i]:
            known = mask_roi_levels(
                batch["mask"][i : i + 1], p, low=cfg.low_threshold, high=cfg.high_threshold
            )[0]
            levels = torch.where(known >= 0, known, levels)
        for v in range(cfg.n_local):
            shown = visible[i, v].float()
            flags[i, v] = not bool((levels * shown).sum() <= cfg.negative_ratio * shown.sum())

    main = model(x)
    model.update_teacher(cfg.ema_momentum)  # inside the authors' forward, before the teacher
    both = torch.cat([x, g2], dim=0)
    with torch.no_grad():
        teacher = model.proj_head_t(model.encode(both).cls.detach())
    student_global = model.proj_head(model.encode(both).cls)
    embedded = model.embed(local)
    student_local = []
    for v in range(cfg.n_local):
        keep = torch.cat(
            [torch.ones(b, n, dtype=torch.bool, device=x.device), visible[:, v].flatten(1)], dim=1
        )
        final, _ = model.run_blocks(embedded, attn_mask=keep[:, None, None, :])
        student_local.append(model.proj_head(final[:, 0]))
    teacher = torch.stack([teacher[:b], teacher[b:]], dim=1)
    student = torch.stack([student_global[:b], student_global[b:], *student_local], dim=1)
    parts = {
        "cls": classification_loss(main["logits"], labels),
        "cls_aux": classification_loss(main["aux_logits"], labels),
        "mcc": _mcc_one_by_one(teacher, student, flags, cfg),
    }

    aux_grid = F.interpolate(cam_aux, size=(h, w), mode="bilinear", align_corners=False)
    inside = token_box(box, (h, w), p, cfg)
    token_labels = torch.stack(
        [
            torch.where(
                inside[i],
                _label_from_cam(aux_grid[i], labels[i], cfg.low_threshold, cfg.high_threshold),
                IGNORE,
            )
            for i in range(b)
        ]
    )
    corrected = mask_to_token_labels(batch["mask"], p)
    for i in range(b):
        if batch["has_mask"][i]:
            token_labels[i] = corrected[i]
    has_mask = batch["has_mask"].bool()
    if bool(has_mask.any()):
        parts["cam_mask"] = mask_cam_loss(
            model,
            main["tokens"][has_mask],
            main["aux_tokens"][has_mask],
            batch["mask"][has_mask],
            labels[has_mask],
        )
    parts["aff"] = _affinity(main["tokens"], token_labels, cfg.per_image_losses)

    seg = F.interpolate(main["seg"], size=(height, width), mode="bilinear", align_corners=False)
    target = _seg_labels_one_by_one(cam, labels, denormalise_uint8(model, x), box, cfg)
    for i in range(b):
        if batch["has_mask"][i]:
            target[i] = batch["mask"][i]
    valid = torch.zeros(b, height, width, dtype=torch.bool, device=x.device)
    for i in range(b):
        y0, x0, y1, x1 = (int(v) for v in box[i])
        valid[i, y0:y1, x0:x1] = True
    parts["seg"] = _seg_loss(seg, target, cfg.per_image_losses)
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
    return _combine(
        parts,
        cfg,
        seg_on=cfg.seg_active(step, total_steps),
        n_positive=flags.sum(),
        contrast_on=cfg.contrast_active(step, total_steps),
    )
