"""Corrected masks as supervision: a corrected image's losses use its labels, another's do not."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mcc_engine.data.dataset import TrainDataset, corrected_sampling_weights
from mcc_engine.data.demo import write_demo
from mcc_engine.data.folder import load_data_folder
from mcc_engine.method.cam import normalise_cam
from mcc_engine.method.config import MethodConfig
from mcc_engine.method.local_masks import sample_visible, view_flags
from mcc_engine.method.losses import affinity_loss, segmentation_loss
from mcc_engine.method.step import (
    mask_cam_loss,
    mask_roi_levels,
    mask_to_token_labels,
    train_step,
)
from mcc_engine.train.trainer import _epoch_order
from tests.engine.tiny import tiny_batch, tiny_model

STEP = 50  # after the seg warm-up of a 100-step run


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "demo"
    write_demo(path, count=12, seed=2)
    return path


def _step(batch, seed: int = 5):
    model = tiny_model()
    gen = torch.Generator().manual_seed(seed)
    out = train_step(model, batch, step=STEP, total_steps=100, cfg=MethodConfig(), generator=gen)
    return model, out


def _both_corrected(size: int = 48):
    batch = tiny_batch(size)
    batch["has_mask"] = torch.tensor([True, True])
    mask0 = torch.zeros(size, size, dtype=torch.long)
    mask0[8:32, 4:20] = 1
    mask0[30:44, 24:44] = 3
    mask0[0:4] = 255  # an unlabelled strip
    batch["mask"][0] = mask0
    return batch


def test_with_every_image_corrected_seg_and_affinity_losses_are_those_of_the_masks():
    batch = _both_corrected()
    model, out = _step(batch)
    # The step changes no trainable weight (the EMA touches the teacher only): recompute by hand.
    with torch.no_grad():
        tokens = model.encode(batch["image"]).tokens
        seg = F.interpolate(model.decoder(tokens), size=(48, 48), mode="bilinear",
                            align_corners=False)  # fmt: skip
        expected_seg = segmentation_loss(seg, batch["mask"])
        expected_aff = affinity_loss(tokens, mask_to_token_labels(batch["mask"], 8))
    assert out.parts["seg"] == pytest.approx(float(expected_seg), abs=1e-5)
    assert out.parts["aff"] == pytest.approx(float(expected_aff), abs=1e-5)


def test_with_every_image_corrected_local_view_flags_follow_the_masks_foreground():
    batch = _both_corrected(96)  # a 12 x 12 token grid, so that local views show patches
    _, out = _step(batch, seed=11)
    cfg = MethodConfig()
    visible = sample_visible(2, n_views=cfg.n_local, grid=(12, 12), cell=cfg.mask_cell,
                             hide_probability=cfg.hide_probability,
                             generator=torch.Generator().manual_seed(11))  # fmt: skip
    levels = mask_roi_levels(batch["mask"], 8, low=cfg.low_threshold, high=cfg.high_threshold)
    assert bool((levels >= 0).all())  # every patch of these masks has labelled pixels
    flags = view_flags(visible, levels, ratio=cfg.negative_ratio)
    assert out.parts["positive_locals"] == float(flags.sum())


def test_an_image_corrected_to_background_has_only_negative_local_views():
    batch = tiny_batch()
    batch["has_mask"] = torch.tensor([True, True])
    batch["mask"][:] = 0  # nothing of a tagged class anywhere
    _, out = _step(batch)
    assert out.parts["positive_locals"] == 0.0
    batch["mask"][:] = 2  # all foreground: every view that shows a patch is a positive
    _, out = _step(batch)
    cfg = MethodConfig()
    visible = sample_visible(2, n_views=cfg.n_local, grid=(6, 6), cell=cfg.mask_cell,
                             hide_probability=cfg.hide_probability,
                             generator=torch.Generator().manual_seed(5))  # fmt: skip
    shown = int(visible.flatten(2).any(-1).sum())
    assert shown > 0
    assert out.parts["positive_locals"] == shown


def test_changing_a_corrected_mask_changes_the_losses_and_an_uncorrected_mask_changes_nothing():
    batch = tiny_batch()  # image 0 weakly labelled, image 1 corrected
    _, base = _step(batch)
    other = tiny_batch()
    other["mask"][1, :40] = 0  # the corrected object shrinks to the bottom sixth
    _, changed = _step(other)
    assert changed.parts["seg"] != pytest.approx(base.parts["seg"], abs=1e-4)
    assert changed.parts["aff"] != pytest.approx(base.parts["aff"], abs=1e-6)
    ignored = tiny_batch()
    ignored["mask"][0] = 1  # image 0 has has_mask False: its mask is not a label
    _, same = _step(ignored)
    assert same.parts == base.parts
    # The same image with has_mask True does train on that mask.
    ignored["has_mask"] = torch.tensor([True, True])
    _, used = _step(ignored)
    assert used.parts["seg"] != pytest.approx(base.parts["seg"], abs=1e-4)


def test_the_cam_mask_loss_counts_for_corrected_images_only():
    _, weak = _step(tiny_batch(corrected=False))
    assert weak.parts["cam_mask"] == 0.0
    batch = tiny_batch()
    _, base = _step(batch)
    assert base.parts["cam_mask"] > 0.0
    batch["mask"][1, :40] = 0
    _, changed = _step(batch)
    assert changed.parts["cam_mask"] != pytest.approx(base.parts["cam_mask"], abs=1e-5)
    # It counts in the total with weight 1 (the method's parts keep the paper's weights).
    parts = base.parts
    weighted = (parts["cls"] + parts["cls_aux"] + 0.2 * parts["aff"] + 0.5 * parts["mcc"]
                + 0.1 * parts["seg"] + 0.05 * parts["reg"] + parts["cam_mask"])  # fmt: skip
    assert parts["total"] == pytest.approx(weighted, abs=1e-5)


def test_the_cam_mask_loss_teaches_the_cams_background_foreground_split():
    model = tiny_model()
    images = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    mask = torch.zeros(2, 48, 48, dtype=torch.long)
    mask[0, :24, :24] = 1
    mask[0, 24:, 24:] = 3
    mask[1, 16:40, 8:32] = 2
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(40):
        enc = model.encode(images)
        loss = mask_cam_loss(model, enc.tokens, enc.aux_tokens, mask, labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        cam = normalise_cam(model.cam(images).relu())
    target = mask_to_token_labels(mask, 8)
    for i, k in ((0, 1), (0, 3), (1, 2)):
        inside = cam[i, k - 1][target[i] == k]
        outside = cam[i, k - 1][(target[i] != k) & (target[i] != 255)]
        assert float(inside.min()) > 0.5 > float(outside.max())


def test_corrected_masks_count_only_after_the_seg_warm_up_for_the_seg_loss():
    batch = tiny_batch()
    model = tiny_model()
    out = train_step(model, batch, step=5, total_steps=100, cfg=MethodConfig(),
                     generator=torch.Generator().manual_seed(5))  # fmt: skip
    assert out.parts["seg"] == 0.0  # the warm-up holds for corrected images too


def test_mask_roi_levels_threshold_the_share_of_foreground_per_patch():
    mask = torch.zeros(1, 16, 24, dtype=torch.long)
    mask[0, :8, 8:16] = 2  # all foreground
    mask[0, :8, 16:20] = 1  # half foreground: between the thresholds
    mask[0, 8:, :8] = 255  # nothing labelled
    mask[0, 8:, 8:16] = 255
    mask[0, 8:10, 8:16] = 3  # the only labelled pixels are foreground
    levels = mask_roi_levels(mask, 8, low=0.25, high=0.7)
    assert levels.tolist() == [[[0, 2, 1], [-1, 2, 0]]]


def test_sampling_draws_corrected_images_three_times_as_often(demo):
    folder = load_data_folder(demo)
    corrected = {s.rel_path for s in folder.samples[:3]}
    dataset = TrainDataset(folder, crop=32, mean=(0.5,) * 3, std=(0.5,) * 3,
                           masks_dir=demo / "ground_truth", mask_images=corrected)  # fmt: skip
    assert sorted(dataset.masks) == [0, 1, 2]
    weights = corrected_sampling_weights(dataset)
    assert weights[0] == pytest.approx(3 * weights[5])
    # The trainer's draws follow the weights: over many epochs, 3x per image.
    draws = np.concatenate([_epoch_order(len(dataset), seed=0, epoch=e, weights=weights)
                            for e in range(400)])  # fmt: skip
    counts = np.bincount(draws, minlength=len(dataset))
    ratio = counts[:3].mean() / counts[3:].mean()
    assert 2.7 < ratio < 3.3
    # An uncorrected image carries no labels: all 255.
    item = dataset[5]
    assert not item["has_mask"] and bool((item["mask"] == 255).all())
    item = dataset[0]
    assert item["has_mask"] and bool((item["mask"] != 255).any())


def test_the_hitl_bench_round_corrects_fine_tunes_and_proposes_for_the_rest(tmp_path):
    from bench.hitl import Arm, Setup, pick, round_zero, run_round

    write_demo(tmp_path / "demo", count=6, seed=3)
    folder = load_data_folder(tmp_path / "demo")
    setup = Setup(work=tmp_path, folder=folder, truth=tmp_path / "demo" / "ground_truth",
                  preset="tiny", round_iters=2, per_round=2, refine="none")  # fmt: skip
    start = round_zero(setup, 2, reuse=False)
    assert len(start.scores) == 6 and 0.0 <= start.miou[0] <= 1.0
    worst = sorted(start.scores, key=lambda rel: (-start.scores[rel], rel))[:2]
    arm = Arm("uncertainty", start.checkpoint, start.proposals, dict(start.scores))
    value = run_round(setup, arm, 1)
    assert arm.corrected == worst
    assert 0.0 <= value <= 1.0 and arm.miou == [value]
    rest = {s.rel_path for s in folder.samples} - set(worst)
    assert set(arm.scores) == rest  # new proposals (and scores) only for the uncorrected images
    written = {p.relative_to(arm.proposals).as_posix() for p in arm.proposals.rglob("*.png")}
    assert written == {rel.replace(".jpg", ".png") for rel in rest}
    settings = (tmp_path / "uncertainty" / "round1" / "config.json").read_text()
    assert str(start.checkpoint) in settings and "masks" in settings
    for rel in worst:  # the simulated annotator's corrections are the true masks
        name = rel.replace(".jpg", ".png")
        assert (tmp_path / "uncertainty" / "masks" / name).read_bytes() == (
            tmp_path / "demo" / "ground_truth" / name
        ).read_bytes()
    other = Arm("random", start.checkpoint, start.proposals, dict(start.scores))
    drawn = pick(setup, other, 1)
    assert len(set(drawn)) == 2 and drawn == pick(setup, other, 1)  # seeded
    assert pick(setup, Arm("none", start.checkpoint, start.proposals, {}), 1) == []
