"""The fast training step equals the faithful formulation, and every part does its job."""

import pytest
import torch

from mcc_engine.method.cam import is_deterministic, multiscale_cams
from mcc_engine.method.config import MethodConfig
from mcc_engine.method.packed_views import encode_visible_cls, pack_views
from mcc_engine.method.reference import reference_step
from mcc_engine.method.step import mask_to_token_labels, train_step
from tests.engine.tiny import tiny_batch, tiny_model


def _run(fn, step, total=100, *, corrected=True, size=48, cfg=None):
    model = tiny_model()
    out = fn(model, tiny_batch(size, corrected=corrected), step=step, total_steps=total,
             cfg=cfg or MethodConfig(), generator=torch.Generator().manual_seed(5))  # fmt: skip
    out.loss.backward()
    grads = {n: p.grad if p.grad is not None else torch.zeros_like(p)
             for n, p in model.named_parameters() if p.requires_grad}  # fmt: skip
    return out, grads


@pytest.mark.parametrize("step", [0, 30, 80])  # warm-up; after it with aux CAM; final CAM
def test_fast_step_equals_the_faithful_formulation(step):
    fast, fast_grads = _run(train_step, step)
    ref, ref_grads = _run(reference_step, step)
    for name in ("total", "cls", "cls_aux", "mcc", "aff", "positive_locals"):
        assert fast.parts[name] == pytest.approx(ref.parts[name], abs=1e-4), name
    if step >= 10:
        for name in ("seg", "reg"):
            assert fast.parts[name] == pytest.approx(ref.parts[name], abs=1e-4), name
    for name, grad in fast_grads.items():
        scale = max(1e-3, float(ref_grads[name].abs().max()))
        assert float((grad - ref_grads[name]).abs().max()) <= 2e-3 * scale, name


def test_fast_step_equals_the_faithful_formulation_with_cosine_projector_outputs():
    cfg = MethodConfig(mcc_cosine=True)
    fast, fast_grads = _run(train_step, 30, cfg=cfg)
    ref, ref_grads = _run(reference_step, 30, cfg=cfg)
    assert fast.parts["mcc"] == pytest.approx(ref.parts["mcc"], abs=1e-4)
    cosine, _ = _run(train_step, 30)  # the default: the authors' raw inner product
    assert fast.parts["mcc"] != pytest.approx(cosine.parts["mcc"], abs=1e-3)
    for name, grad in fast_grads.items():
        scale = max(1e-3, float(ref_grads[name].abs().max()))
        assert float((grad - ref_grads[name]).abs().max()) <= 2e-3 * scale, name


def test_grid_not_divisible_by_the_mask_cell_works():
    # crop 56 with patch 8 gives a 7 x 7 grid (like crop 224 with patch 16 gives 14 x 14)
    fast, _ = _run(train_step, 50, size=56)
    ref, _ = _run(reference_step, 50, size=56)
    assert fast.parts["total"] == pytest.approx(ref.parts["total"], abs=1e-4)


def test_every_trainable_parameter_gets_a_gradient_and_no_nan():
    out, grads = _run(train_step, 50)
    assert torch.isfinite(out.loss)
    dead = [n for n, g in grads.items() if not torch.isfinite(g).all() or g.abs().sum() == 0]
    assert dead == []


def test_seg_and_reg_are_skipped_during_warm_up():
    out, grads = _run(train_step, 5)
    assert out.parts["seg"] == 0.0 and out.parts["reg"] == 0.0
    assert grads["decoder.conv8.weight"].abs().sum() == 0


@pytest.mark.parametrize("step", [40, 60])  # inside the CAM warm-up; after it
def test_cam_warm_up_trains_the_classifiers_alone_then_every_loss(step):
    cfg = MethodConfig(cam_warmup_fraction=0.5)
    out, grads = _run(train_step, step, corrected=False, cfg=cfg)
    ref, _ = _run(reference_step, step, corrected=False, cfg=cfg)
    assert out.parts["total"] == pytest.approx(ref.parts["total"], abs=1e-4)
    alone = out.parts["cls"] + out.parts["cls_aux"]
    heads = grads["proj_head.mlp.0.weight"].abs().sum() + grads["decoder.conv8.weight"].abs().sum()
    if step < 50:
        assert out.parts["total"] == pytest.approx(alone, abs=1e-5)
        assert heads == 0
    else:
        assert out.parts["total"] > alone + 1e-3 and heads > 0


def test_plain_cam_training_computes_the_classification_losses_alone():
    cfg = MethodConfig(w_mcc=0.0, w_aff=0.0, w_seg=0.0, w_reg=0.0)
    fast, fast_grads = _run(train_step, 50, cfg=cfg)
    ref, ref_grads = _run(reference_step, 50, cfg=cfg)
    assert fast.parts["total"] == pytest.approx(ref.parts["total"], abs=1e-4)
    assert fast.parts["mcc"] == 0.0 and fast.parts["positive_locals"] == 0.0
    for name, grad in fast_grads.items():
        scale = max(1e-3, float(ref_grads[name].abs().max()))
        assert float((grad - ref_grads[name]).abs().max()) <= 2e-3 * scale, name


def test_a_corrected_image_trains_on_its_labels_and_an_uncorrected_one_does_not():
    with_mask, _ = _run(train_step, 50, corrected=True)
    without, _ = _run(train_step, 50, corrected=False)
    assert with_mask.parts["seg"] != pytest.approx(without.parts["seg"])
    assert with_mask.parts["aff"] != pytest.approx(without.parts["aff"])
    # Changing the (unused) mask of the weakly labelled image changes nothing.
    model = tiny_model()
    batch = tiny_batch()
    batch["mask"][0] = 1
    cfg = MethodConfig()
    gen = torch.Generator().manual_seed(5)
    other = train_step(model, batch, step=50, total_steps=100, cfg=cfg, generator=gen)
    assert other.parts["total"] == pytest.approx(with_mask.parts["total"], abs=1e-6)


@pytest.mark.parametrize("capacity", [1, 20, None, 10_000])  # one view a pack ... all in one
def test_masked_views_with_visible_tokens_only_equal_full_length_masked_attention(capacity):
    model = tiny_model()
    images = torch.randn(2, 3, 48, 48)
    visible = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(3)) > 0.6
    visible[0, 1] = False  # a view with nothing visible keeps only its CLS
    short = encode_visible_cls(model, images, visible, capacity=capacity)
    tokens = model.embed(images)
    for v in range(3):
        keep = torch.cat([torch.ones(2, 1, dtype=torch.bool), visible[:, v].flatten(1)], dim=1)
        full, _ = model.run_blocks(tokens, attn_mask=keep[:, None, None, :])
        torch.testing.assert_close(short[:, v], full[:, 0], atol=1e-5, rtol=1e-5)


def test_packed_views_hold_each_visible_patch_once_and_no_hidden_one():
    visible = torch.rand(3, 4, 5, 5, generator=torch.Generator().manual_seed(0)) > 0.7
    source, owner, cls_at = pack_views(visible, n_prefix=1, capacity=12)
    assert source.shape[0] > 1  # several packs
    flat = visible.flatten(2).reshape(12, -1)
    for view in range(12):
        taken = sorted(source[owner == view].tolist())
        expected = [0, *(torch.nonzero(flat[view])[:, 0] + 1).tolist()]  # CLS, then patches
        assert taken == expected, view
        assert int(owner[cls_at[view, 0], cls_at[view, 1]]) == view
        assert int(source[cls_at[view, 0], cls_at[view, 1]]) == 0  # the CLS slot


def test_mask_to_token_labels_keeps_only_single_class_patches():
    mask = torch.full((1, 16, 16), 255, dtype=torch.long)
    mask[0, :8, :8] = 2
    mask[0, :8, 8:] = 1
    mask[0, 0, 8] = 0  # a mixed patch
    labels = mask_to_token_labels(mask, 8)
    assert labels.tolist() == [[[2, 255], [255, 255]]]


def test_teacher_is_an_exponential_moving_average_of_the_student():
    model = tiny_model()
    with torch.no_grad():
        for p in model.proj_head.parameters():
            p.add_(1.0)
    before_t = [p.clone() for p in model.proj_head_t.parameters()]
    student = [p.clone() for p in model.proj_head.parameters()]
    model.update_teacher(0.9)
    for t0, s, t1 in zip(before_t, student, model.proj_head_t.parameters()):
        torch.testing.assert_close(t1, 0.9 * t0 + 0.1 * s)
    assert not any(p.requires_grad for p in model.proj_head_t.parameters())


def test_scale_one_cam_from_the_training_pass_equals_its_own_pass():
    model = tiny_model()
    x = torch.randn(2, 3, 48, 48)
    assert is_deterministic(model)
    enc = model.encode(x)
    shared = multiscale_cams(model, x, main_tokens=(enc.tokens, enc.aux_tokens))
    for a, b in zip(shared, multiscale_cams(model, x)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    model.encoder.blocks[0].attn.attn_drop.p = 0.1  # random again: the step must not share
    assert not is_deterministic(model)
