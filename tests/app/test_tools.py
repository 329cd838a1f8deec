"""Editing tools on hand-made arrays (no Qt), and the undo history."""

import numpy as np

from app import tools
from mcc_engine.project.history import MaskHistory


def test_brush_paints_a_capsule_and_reports_its_rectangle():
    mask = np.zeros((20, 30), np.uint8)
    rect = tools.brush(mask, (5, 10), (20, 10), size=5, value=3)
    assert rect == (2, 7, 22, 7)
    assert mask[10, 5:21].tolist() == [3] * 16 and mask[8:13, 12].tolist() == [3] * 5
    assert mask[4, 12] == 0 and mask[10, 25] == 0


def test_polygon_fill_flood_fill_replace():
    mask = np.zeros((10, 10), np.uint8)
    tools.fill_polygon(mask, [(2, 2), (6, 2), (6, 6), (2, 6)], value=1)
    assert mask[2:7, 2:7].min() == 1 and mask.sum() == 25
    mask[:, 8] = 2  # a wall
    tools.flood_fill(mask, (0, 0), value=4)
    assert mask[0, 0] == 4 and mask[0, 9] == 0 and mask[4, 4] == 1
    tools.replace_class(mask, 1, 255)
    assert (mask == 255).sum() == 25


def test_history_restores_exact_pixels_for_many_steps():
    history = MaskHistory.detached(np.zeros((8, 8), np.uint8))
    mask = history.mask
    for value in range(1, 61):
        before = mask.copy()
        rect = tools.brush(mask, (value % 8, 0), (value % 8, 7), size=1, value=value)
        x, y, w, h = rect
        history.commit(rect, before[y : y + h, x : x + w])
    final = mask.copy()
    for _ in range(60):
        assert history.undo()
    assert (mask == 0).all() and not history.can_undo()
    for _ in range(60):
        assert history.redo()
    np.testing.assert_array_equal(mask, final)


def test_the_brush_paints_the_pixel_under_the_cursor():
    # A point on the right half of pixel 0 is still pixel 0 (rounding moved it to pixel 1).
    mask = np.zeros((6, 6), np.uint8)
    tools.brush(mask, (0.6, 0.7), (0.6, 0.7), size=1, value=3)
    assert mask[0, 0] == 3 and mask.sum() == 3
