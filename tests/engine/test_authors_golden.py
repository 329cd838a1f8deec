"""The engine against outputs of the authors' own code on fixed inputs (the fidelity oracle).

The folder comes from MCC_GOLDEN_DIR (default ../shared/golden/authors); every file its manifest
lists is a test case, dispatched by its name, and every case of the format must be present.
Shapes and parameters are read from the files. Tolerances: rtol 1e-5 (atol 1e-6 on values near
0) where the arithmetic is the same as the authors'; 1e-4 through the network and the step,
whose float sums run in another order; thresholded labels exactly, except the PAR argmax of the
step's pseudo-label, whose margins the folder does not bound (at most 0.1% of pixels may flip).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mcc_engine.errors import InputError
from mcc_engine.method.authors_inference import authors_cam, authors_seg
from mcc_engine.method.cam import (
    box_mask,
    cam_to_label,
    cam_to_mask,
    multiscale_cams,
)
from mcc_engine.method.config import MethodConfig
from mcc_engine.method.crf_energy import crf_energy_loss
from mcc_engine.method.local_masks import roi_levels, sample_visible, view_flags
from mcc_engine.method.losses import (
    affinity_loss,
    affinity_pairs,
    mcc_loss,
    segmentation_loss,
)
from mcc_engine.method.par import par_refine
from mcc_engine.method.permutohedral import bilateral_filter
from mcc_engine.method.reference import reference_step
from mcc_engine.method.step import (
    contrast_outputs,
    denormalise_uint8,
    guide_cam,
    seg_pseudo_labels,
    token_box,
    train_step,
)
from mcc_engine.model.network import build_model
from mcc_engine.model.weights import load_weights_file
from mcc_engine.train.schedule import lr_factor
from tests.engine import golden as G

FILES = G.golden_files()
STEP_RTOL = 1e-4


def close(ours, theirs, *, rtol=1e-5, atol=1e-6) -> None:
    """assert_close against a golden array (float64 comparison, shapes must agree).

    `atol` is relative to the array's largest magnitude (when above 1), so float32 round-off of
    large values does not fail small elements of the same array.
    """
    ours = torch.as_tensor(ours.detach() if isinstance(ours, torch.Tensor) else ours).double()
    scale = max(1.0, float(np.abs(theirs).max())) if np.size(theirs) else 1.0
    torch.testing.assert_close(ours, G.tensor(theirs).double(), rtol=rtol, atol=atol * scale)


def test_every_case_of_the_format_is_in_the_folder():
    names = [name for name in FILES if name.endswith(".npz")]
    missing = [case for case in G.CASES if not any(n.startswith(case) for n in names)]
    assert not missing, f"{G.GOLDEN_DIR} lacks {missing}"


@pytest.mark.parametrize("name", FILES)
def test_golden_case(name):
    for prefix, check in CHECKS.items():
        if name.startswith(prefix):
            check(name)
            return
    pytest.fail(f"no check for golden file {name}")


# -- c01: MCC loss --------------------------------------------------------------------------------
def check_mcc(name):
    d = G.load(name)
    flags = G.tensor(d["flags"])
    b, views = flags.shape
    student = G.tensor(d["student"]).requires_grad_()
    teacher = G.tensor(d["teacher"]).requires_grad_()
    # The authors' rows are view-major (row v * B + b); the engine takes (B, views, C).
    s = student.reshape(views, b, -1).transpose(0, 1)
    t = teacher.reshape(-1, b, teacher.shape[-1]).transpose(0, 1)
    loss = mcc_loss(t, s, flags > 0, temperature=float(d["temp"]))
    loss.backward()
    close(loss, d["loss"])
    close(student.grad, d["grad_student"])
    close(teacher.grad, d["grad_teacher"])


# -- c02: affinity labels and loss ----------------------------------------------------------------
def check_affinity(name):
    d = G.load(name)
    label = G.tensor(d["label"])
    assert torch.equal(affinity_pairs(label), G.tensor(d["aff_mask"]))
    fmap = G.tensor(d["fmap"]).requires_grad_()
    loss = affinity_loss(fmap, label, per_image=False)  # their function pools over its batch
    loss.backward()
    close(loss, d["loss"])
    close(fmap.grad, d["grad_fmap"])


# -- c03: CAM to label ------------------------------------------------------------------------------
def check_cam_to_label(name):
    d = G.load(name)
    cam, labels = G.tensor(d["cam"]), G.tensor(d["cls_label"])
    if "img_box" not in d:  # the inference tool: argmax + 1, background at or below bkg_thre
        got = cam_to_mask(cam, labels, background=float(d["bkg_thre"]))
        assert torch.equal(got, G.tensor(d["pseudo_label"]))
        return
    assert float(d["bkg_thre"]) <= float(d["high_thre"])  # else bkg_thre would matter (quirk 5)
    close(cam * labels[:, :, None, None], d["valid_cam"], rtol=0, atol=0)
    # The box slices whatever grid the CAM is on: stride 1 is the authors' slicing as is.
    valid = box_mask(G.ours_box(d["img_box"]), tuple(cam.shape[-2:]), stride=1)
    got = cam_to_label(
        cam, labels, low=float(d["low_thre"]), high=float(d["high_thre"]), valid=valid
    )
    assert torch.equal(got, G.tensor(d["pseudo_label"]))


# -- c04: PAR ---------------------------------------------------------------------------------------
def check_par(name):
    d = G.load(name)
    out = par_refine(
        G.tensor(d["image"]),
        G.tensor(d["masks"]),
        dilations=tuple(int(v) for v in d["dilations"]),
        iters=int(d["num_iter"]),
    )
    close(out, d["output"], rtol=1e-5, atol=1e-6)


# -- c05: segmentation pseudo-labels (refine_cams_with_bkg_v2) -------------------------------------
def check_refine(name):
    d = G.load(name)
    cams = G.tensor(d["cams"])
    assert int(d["down_scale"]) == 2  # the engine refines at half resolution, as the authors
    cfg = MethodConfig(high_threshold=float(d["high_thre"]), low_threshold=float(d["low_thre"]))
    valid = box_mask(G.ours_box(d["img_box"]), tuple(cams.shape[-2:]))
    got = seg_pseudo_labels(cams, G.tensor(d["cls_labels"]), G.tensor(d["images"]), valid, cfg)
    assert torch.equal(got.float(), G.tensor(d["refined_label"]))


# -- c06: segmentation loss ------------------------------------------------------------------------
def check_seg_loss(name):
    d = G.load(name)
    pred = G.tensor(d["pred"]).requires_grad_()
    label = G.tensor(d["label"])
    loss = segmentation_loss(pred, label, per_image=False)
    loss.backward()
    if np.isnan(d["loss"]):
        # The authors' cross-entropy over zero pixels is NaN (0/0); ours counts that term 0, so
        # the loss is half the other term, computed here with torch's own cross-entropy.
        fg = label.clone()
        fg[label == 0] = 255
        bg = label.clone()
        bg[label != 0] = 255
        present = [t for t in (bg, fg) if bool((t != 255).any())]
        assert len(present) == 1
        expected = 0.5 * torch.nn.functional.cross_entropy(pred, present[0], ignore_index=255)
        torch.testing.assert_close(loss, expected)
        assert torch.isfinite(pred.grad).all()
        return
    close(loss, d["loss"])
    close(pred.grad, d["grad_pred"])


# -- c07: the CRF energy regulariser ---------------------------------------------------------------
def check_energy(name):
    d = G.load(name)
    # The lattice against the authors' compiled filter, on the inputs it received.
    out = bilateral_filter(
        G.tensor(d["filter_image"]),
        G.tensor(d["filter_seg"]),
        sigma_rgb=float(d["filter_sigma_rgb"]),
        sigma_xy=float(d["filter_sigma_xy"]),
    )
    close(out, d["filter_out"], rtol=1e-5, atol=1e-6)  # only the order of the sums differs
    # The loss from the normalised image and the logits, as the training step calls it.
    logits = G.tensor(d["logits"]).requires_grad_()
    mean255 = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)  # the authors' constants
    std255 = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    images = G.tensor(d["img_norm"]) * std255 + mean255
    labels = G.tensor(d["label"]).to(torch.uint8).long()  # they cast the float label to uint8
    roi = box_mask(G.ours_box(d["img_box"]), tuple(logits.shape[-2:]))
    loss = crf_energy_loss(
        images,
        logits.softmax(dim=1),
        labels,
        roi,
        sigma_rgb=float(d["sigma_rgb"]),
        sigma_xy=float(d["sigma_xy"]),
        weight=float(d["weight"]),
        scale=float(d["scale_factor"]),
    )
    loss.backward()
    assert loss.shape == ()  # the authors return shape (1,) with the same value
    close(loss, d["loss"])
    expected = G.tensor(d["grad_logits"])
    assert float((logits.grad - expected).norm() / expected.norm()) <= 1e-5


# -- c08: local-view masks and flags ---------------------------------------------------------------
def check_flags(name):
    d = G.load(name)
    hidden = G.tensor(d["masks_hidden"])
    b, views, h, w = hidden.shape
    cell = int(d["scale"])
    # The authors seeded torch and drew per image, then per view; the same seed replays it here.
    drawn = sample_visible(
        b,
        n_views=views,
        grid=(h, w),
        cell=cell,
        hide_probability=float(d["mask_rate"]),
        generator=torch.Generator().manual_seed(int(d["torch_seed"])),
    )
    assert torch.equal(drawn, hidden == 0)
    levels = roi_levels(
        G.tensor(d["cam"]),
        G.tensor(d["cls_label"]),
        low=float(d["low_thre"]),
        high=float(d["high_thre"]),
    )
    flags = view_flags(hidden == 0, levels, ratio=0.2)
    expected = G.tensor(d["flags"])
    assert torch.equal(expected[:, :2], torch.ones(b, 2))
    assert torch.equal(flags.float(), expected[:, 2:])


# -- c09: learning-rate schedule --------------------------------------------------------------------
def check_lr(name):
    d = G.load(name)
    total, warmup = int(d["max_iter"]), int(d["warmup_iter"])
    factors = np.array(
        [
            lr_factor(
                int(t),
                total=total,
                warmup=warmup,
                start_ratio=float(d["warmup_ratio"]),
                power=float(d["power"]),
            )
            for t in d["step"]
        ]
    )
    np.testing.assert_allclose(factors[:, None] * d["base_lr"][None], d["lr"], rtol=1e-12)


# -- c10: the network -------------------------------------------------------------------------------
def check_network(name):
    d = G.load(name)
    for ddp in (False, True):
        model = G.golden_network(ddp=ddp).train()
        x = G.tensor(d["inputs"])
        b = x.shape[0]
        with torch.no_grad():
            out = model(x)
            close(model.cam(x, aux=True), d["cam_aux_raw"], rtol=STEP_RTOL, atol=1e-5)
            close(model.cam(x), d["cam_raw"], rtol=STEP_RTOL, atol=1e-5)
        for ours, key in (
            (out["logits"], "cls"),
            (out["aux_logits"], "cls_aux"),
            (out["seg"], "segs"),
            (out["tokens"], "fmap"),
        ):
            close(ours, d[key], rtol=STEP_RTOL, atol=1e-5)
        model.update_teacher(G.momentum())  # the authors' forward updates the teacher first
        enc = model.encode(torch.cat([x, G.tensor(d["view_global2"])]))
        global_cls = torch.stack([enc.cls[:b], enc.cls[b:]], dim=1)
        visible = G.tensor(d["masks_hidden"]) == 0
        teacher, student = contrast_outputs(model, global_cls, G.tensor(d["view_local"]), visible)
        # Golden rows are view-major: row v * B + b.
        close(
            teacher.transpose(0, 1).reshape(-1, teacher.shape[-1]),
            d["out_t"],
            rtol=STEP_RTOL,
            atol=1e-5,
        )
        close(
            student.transpose(0, 1).reshape(-1, student.shape[-1]),
            d["out_s"],
            rtol=STEP_RTOL,
            atol=1e-5,
        )
        t = model.proj_head_t
        close(t.mlp[0].bias, d["teacher_after_ema__mlp_0_bias"])
        close(t.mlp[4].bias, d["teacher_after_ema__mlp_4_bias"])
        close(t.last_layer.weight_v[0], d["teacher_after_ema__last_layer_weight_v_row0"])
        cam, cam_aux = multiscale_cams(model, x, scales=tuple(d["msc_scales"].tolist()))
        close(cam, d["msc_cams"], rtol=STEP_RTOL, atol=1e-5)
        close(cam_aux, d["msc_cams_aux"], rtol=STEP_RTOL, atol=1e-5)
        assert (out["tokens"].shape[-2:]) == (int(d["msc_cam_h"]), int(d["msc_cam_w"]))


# -- c11: one training step ------------------------------------------------------------------------
def _step_setup(d):
    schedule = G.load("c09_lr_schedule.npz")
    total = int(schedule["max_iter"])  # the iteration switches are fractions of the paper's run
    cfg = MethodConfig(hide_probability=float(d["mask_rate"]), per_image_losses=False)
    x = G.tensor(d["inputs"])
    batch = {
        "image": x,
        "global2": G.tensor(d["view_global2"]),
        "local": G.tensor(d["view_local"]),
        "labels": G.tensor(d["cls_label"]),
        "box": G.ours_box(d["img_box"]),
        "mask": torch.full((x.shape[0], *x.shape[-2:]), 255, dtype=torch.long),
        "has_mask": torch.zeros(x.shape[0], dtype=torch.bool),
    }
    return cfg, total, batch


def check_step(name):
    d = G.load(name)
    cfg, total, batch = _step_setup(d)
    n_iter = int(d["n_iter"])
    model = G.golden_network().train()
    x, labels = batch["image"], batch["labels"]
    b, _, height, width = x.shape
    grid = (int(d["cam_h"]), int(d["cam_w"]))
    p = model.patch_size

    # The stages, each against the authors' intermediate.
    close(denormalise_uint8(model, x), d["inputs_denorm"], rtol=0, atol=1e-7)
    cam, cam_aux = multiscale_cams(model, x, scales=cfg.cam_scales)
    close(cam, d["cams"], rtol=STEP_RTOL, atol=1e-5)
    close(cam_aux, d["cams_aux"], rtol=STEP_RTOL, atol=1e-5)
    guide = guide_cam(cam, cam_aux, grid, step=n_iter, total_steps=total, cfg=cfg)
    close(guide, d["guide"], rtol=STEP_RTOL, atol=1e-5)
    levels = roi_levels(guide, labels, low=cfg.low_threshold, high=cfg.high_threshold)
    visible = G.tensor(d["masks_hidden"]) == 0
    flags = view_flags(visible, levels, ratio=cfg.negative_ratio)
    assert torch.equal(flags.float(), G.tensor(d["flags"])[:, 2:])
    generator = torch.Generator().manual_seed(int(d["mask_torch_seed"]))
    redrawn = sample_visible(
        b,
        n_views=cfg.n_local,
        grid=grid,
        cell=cfg.mask_cell,
        hide_probability=cfg.hide_probability,
        generator=generator,
    )
    assert torch.equal(redrawn, visible)
    close(cam * labels[:, :, None, None], d["valid_cam"], rtol=STEP_RTOL, atol=1e-5)
    valid = box_mask(batch["box"], (height, width))
    target = seg_pseudo_labels(cam, labels, G.tensor(d["inputs_denorm"]), valid, cfg)
    flipped = (target.float() != G.tensor(d["refined_pseudo_label"])).float().mean()
    assert float(flipped) <= 1e-3
    aux_grid = torch.nn.functional.interpolate(cam_aux, size=grid, mode="bilinear")
    tokens_valid = token_box(batch["box"], grid, p, cfg)
    aux_label = cam_to_label(
        aux_grid, labels, low=cfg.low_threshold, high=cfg.high_threshold, valid=tokens_valid
    )
    assert torch.equal(aux_label, G.tensor(d["pseudo_label_aux"]))

    # The seg loss is recorded even while it weighs 0: check it from the decoder here.
    with torch.no_grad():
        seg = torch.nn.functional.interpolate(
            model(x)["seg"], size=(height, width), mode="bilinear"
        )
    target = G.tensor(d["refined_pseudo_label"]).long()
    close(segmentation_loss(seg, target, per_image=False), d["loss_seg"], rtol=STEP_RTOL)


@pytest.mark.parametrize("formulation", [train_step, reference_step])
@pytest.mark.parametrize("name", [n for n in FILES if n.startswith("c11_")])
def test_whole_step_gives_the_authors_losses_and_gradients(name, formulation):
    d = G.load(name)
    cfg, total, batch = _step_setup(d)
    n_iter = int(d["n_iter"])
    model = G.golden_network().train()
    visible = G.tensor(d["masks_hidden"]) == 0
    out = formulation(model, batch, step=n_iter, total_steps=total, cfg=cfg, visible=visible)
    model.zero_grad(set_to_none=True)
    out.loss.backward()
    seg_on = cfg.seg_active(n_iter, total)
    assert (
        float(d["loss_total"])
        != pytest.approx(
            float(d["loss_cls"] + d["loss_cls_aux"] + 0.2 * d["loss_aff"] + 0.5 * d["loss_mcc"]),
            rel=1e-5,
        )
    ) == seg_on  # the file agrees on whether seg and reg weigh at this iteration
    for part in ("cls", "cls_aux", "aff", "mcc") + (("seg", "reg") if seg_on else ()):
        close(out.parts[part], d[f"loss_{part}"], rtol=STEP_RTOL, atol=1e-6)
    close(out.parts["total"], d["loss_total"], rtol=STEP_RTOL, atol=1e-6)
    params = dict(model.named_parameters())
    for key in d:
        if key.startswith("grad__"):
            param = params[key.removeprefix("grad__")]
            grad = torch.zeros_like(param) if param.grad is None else param.grad  # weighs 0
            close(grad, d[key], rtol=1e-3, atol=1e-5 * float(np.abs(d[key]).max()))


# -- c12: inference ---------------------------------------------------------------------------------
def check_inference(name):
    d = G.load(name)
    model = G.golden_network(ddp=True).eval()  # their tools load the training script's file
    x = G.tensor(d["inputs"])
    seg = authors_seg(model, x, scales=tuple(d["seg_scales"].tolist()))
    close(seg.seg_per_scale, d["seg_per_scale"], rtol=STEP_RTOL, atol=1e-5)
    close(seg.seg_logits, d["seg_logits"], rtol=STEP_RTOL, atol=1e-5)
    assert torch.equal(seg.seg_pred, G.tensor(d["seg_pred"]))
    cam = authors_cam(
        model,
        x,
        G.tensor(d["cls_label"]),
        size=int(d["cam_resize"]),
        scales=tuple(d["cam_scales"].tolist()),
        background=float(d["bkg_thre"]),
    )
    close(cam.cam, d["cam"], rtol=STEP_RTOL, atol=1e-5)
    close(cam.cam_aux, d["cam_aux"], rtol=STEP_RTOL, atol=1e-5)
    assert torch.equal(cam.cam_label, G.tensor(d["cam_label"]))
    assert torch.equal(cam.cam_aux_label, G.tensor(d["cam_aux_label"]))


CHECKS = {
    "c01_": check_mcc,
    "c02_": check_affinity,
    "c03_": check_cam_to_label,
    "c04_": check_par,
    "c05_": check_refine,
    "c06_": check_seg_loss,
    "c07_": check_energy,
    "c08_": check_flags,
    "c09_": check_lr,
    "c10_": check_network,
    "c11_": check_step,
    "c12_": check_inference,
}
assert set(CHECKS) == {case[:4] for case in G.CASES}


def test_parameters_train_as_the_authors_groups_say():
    params = json.loads((G.GOLDEN_DIR / "c10_network_params.json").read_text())["parameters"]
    model = build_model(G.network_config())
    encoder, heads = model.param_groups()
    group_of = {id(p): "encoder" for p in encoder} | {id(p): "heads" for p in heads}
    ours = dict(model.named_parameters())
    for name, info in params.items():
        if name.startswith("encoder.head."):
            assert name not in ours  # the unused ImageNet head is dropped by name when loading
            continue
        param = ours[name]
        assert tuple(param.shape) == tuple(info["shape"]), name
        assert param.requires_grad == info["requires_grad"], name
        if not info["requires_grad"] or info["optimizer_group"] is None:
            assert id(param) not in group_of, name
        else:
            expected = "encoder" if info["lr_multiplier"] == 1.0 else "heads"
            assert group_of[id(param)] == expected, name


def test_the_authors_checkpoint_loads_strictly(tmp_path):
    state = torch.load(G.GOLDEN_DIR / "c10_network_state_dict.pth", weights_only=True)
    model = build_model(G.network_config())
    for change, message in (
        (lambda s: s.pop("decoder.conv6.weight"), "missing"),
        (lambda s: s.__setitem__("encoder.extra.weight", torch.zeros(1)), "unexpected"),
    ):
        broken = dict(state)
        change(broken)
        torch.save(broken, tmp_path / "broken.pth")
        with pytest.raises(InputError, match=message):
            load_weights_file(model, tmp_path / "broken.pth")
