"""Each loss on small inputs worked out by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from mcc_engine.method.cam import cam_to_label, normalise_cam
from mcc_engine.method.losses import (
    affinity_loss,
    classification_loss,
    mcc_loss,
    segmentation_loss,
)


def test_mcc_loss_by_hand_one_teacher_one_positive_one_negative():
    teacher = torch.tensor([[[1.0, 0.0]]])
    student = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # cosines 1 and 0
    loss = mcc_loss(teacher, student, torch.tensor([[True, False]]), temperature=0.5)
    sp, sn = math.exp(2.0), math.exp(0.0)
    expected = -math.log(sp / (sp + sn + 1e-4)) - math.log(1 / (1 + sn + 1e-4))
    # divided by the one teacher and by (one positive + 1e-4), as the authors
    assert float(loss) == pytest.approx(expected / (1 + 1e-4), rel=1e-6)


def test_mcc_loss_divides_by_teachers_and_positives_and_averages_images():
    teacher = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    student = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    loss = mcc_loss(teacher, student, torch.tensor([[True, True]]), temperature=0.5)
    # no negatives: each positive gives -log(s / (s + 1e-4)), the extra term -log(1 / 1.0001)
    s = math.exp(2.0)
    per_teacher = 2 * -math.log(s / (s + 1e-4)) - math.log(1 / 1.0001)
    assert float(loss) == pytest.approx(2 * per_teacher / 2 / (2 + 1e-4), rel=1e-6)


def _mcc_direct(teacher, student, positive, temperature):
    """method.md step 6 written out with loops and plain exp (the authors' formulation)."""
    total = 0.0
    for t_views, s_views, flags in zip(teacher, student, positive):
        sim = torch.exp(t_views @ s_views.T / temperature)  # (T, V)
        neg = sim[:, ~flags].sum(-1)
        loss = sum(-torch.log(sim[:, j] / (sim[:, j] + neg + 1e-4)) for j in flags.nonzero()[:, 0])
        loss = loss - torch.log(1 / (1 + neg + 1e-4))
        total = total + loss.sum() / len(t_views) / (int(flags.sum()) + 1e-4)
    return total / len(teacher)


@pytest.mark.parametrize("cosine", [True, False])
def test_mcc_loss_equals_the_direct_formula(cosine):
    gen = torch.Generator().manual_seed(3)
    teacher = torch.randn(3, 2, 8, generator=gen)
    student = torch.randn(3, 10, 8, generator=gen)
    positive = torch.rand(3, 10, generator=gen) > 0.5
    positive[:, :2] = True
    positive[2, 2:] = True  # an image without negatives
    t, s = (teacher, student) if not cosine else (F.normalize(teacher, dim=-1),
                                                  F.normalize(student, dim=-1))  # fmt: skip
    expected = _mcc_direct(t.double(), s.double(), positive, 0.5)
    loss = mcc_loss(teacher, student, positive, temperature=0.5, cosine=cosine)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_mcc_loss_on_raw_outputs_stays_finite_where_exp_overflows():
    # Raw projector outputs of norm ~10 give inner products ~100: exp(100 / 0.5) is inf in float32.
    teacher = torch.full((1, 2, 4), 5.0)
    student = torch.cat([torch.full((1, 3, 4), 5.0), torch.full((1, 1, 4), -5.0)], dim=1)
    student.requires_grad_(True)
    positive = torch.tensor([[True, True, False, False]])
    loss = mcc_loss(teacher, student, positive, temperature=0.5, cosine=False)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(student.grad).all()
    # the negative at +100 ties the positives: each positive term is log 2, the extra one ~200
    assert loss.item() == pytest.approx((2 * 2 * math.log(2) + 2 * 200.0) / 2 / 2.0001, rel=1e-4)


def test_affinity_loss_on_a_two_by_two_grid():
    tokens = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]).T.reshape(1, 2, 2, 2)
    labels = torch.tensor([[[1, 1], [0, 255]]])
    # pairs (ordered, i != j): (0,1) same, cos 1, twice; (0,2) and (1,2) different, cos 0, twice
    # each; token 3 ignored. Both counts take +1, as the authors'.
    loss = affinity_loss(tokens, labels)
    assert float(loss) == pytest.approx(0.5 * (1 - 2 * 1.0 / 3) + 0.5 * 0.0 / 5, abs=1e-6)
    labels = torch.tensor([[[1, 0], [0, 1]]])
    # same pairs: (0,3) cos .6, (1,2) cos 0; different: (0,1) 1, (0,2) 0, (1,3) 0.8, (2,3) 0.8
    expected = 0.5 * (1 - 2 * (0.6 + 0.0) / 5) + 0.5 * 2 * (1.0 + 0.0 + 0.6 + 0.8) / 9
    # (0,1): tokens 0 and 1 are (1,0) and (1,0) with labels 1 and 0 -> different, cos 1
    # (1,3): (1,0).(0.6,0.8) = 0.6 ; (2,3): (0,1).(0.6,0.8) = 0.8
    assert float(affinity_loss(tokens, labels)) == pytest.approx(expected, abs=1e-6)


def test_segmentation_loss_is_the_mean_of_background_and_foreground_terms():
    logits = torch.zeros(1, 3, 1, 3)
    logits[0, 0, 0, 0] = 2.0
    target = torch.tensor([[[0, 2, 255]]])
    bg = -math.log(math.exp(2) / (math.exp(2) + 2))
    fg = -math.log(1 / 3)
    assert float(segmentation_loss(logits, target)) == pytest.approx(0.5 * (bg + fg), rel=1e-6)


def test_cam_labels_thresholds_and_box():
    cam = torch.tensor([[[[0.1, 0.5, 0.9]], [[0.8, 0.2, 0.3]]]])  # (1, 2, 1, 3)
    labels = torch.tensor([[1.0, 0.0]])
    out = cam_to_label(cam, labels, low=0.25, high=0.7)
    assert out.tolist() == [[[0, 255, 1]]]
    # exactly at the high threshold is still ignored (the authors: class only above it)
    assert cam_to_label(cam.clamp(max=0.7), labels, low=0.25, high=0.7).tolist() == [
        [[0, 255, 255]]
    ]
    valid = torch.tensor([[[True, True, False]]])
    assert cam_to_label(cam, labels, low=0.25, high=0.7, valid=valid).tolist() == [[[0, 255, 255]]]


def test_normalised_cam_spans_zero_to_one():
    cam = normalise_cam(torch.tensor([[[[2.0, 4.0], [6.0, 3.0]]]]))
    assert float(cam.min()) == 0.0
    assert float(cam.max()) == pytest.approx(1.0, abs=1e-4)


def test_classification_loss_by_hand():
    logits = torch.tensor([[2.0, -1.0]])
    labels = torch.tensor([[1.0, 0.0]])
    # mean over classes of -log sigmoid(x) for a tag and -log(1 - sigmoid(x)) for its absence
    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.0))) / 2
    assert float(classification_loss(logits, labels)) == pytest.approx(expected, rel=1e-6)
