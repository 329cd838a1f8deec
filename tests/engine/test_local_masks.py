"""Local-view masks: about 5% visible, any token grid, flags from the ROI of visible patches."""

import torch

from mcc_engine.method.local_masks import roi_levels, sample_visible, view_flags


def test_about_five_percent_of_patches_stay_visible_for_any_grid():
    g = torch.Generator().manual_seed(0)
    for grid in ((14, 14), (12, 12), (7, 9)):
        visible = sample_visible(64, n_views=8, grid=grid, generator=g)
        assert visible.shape == (64, 8, *grid)
        assert 0.035 < float(visible.float().mean()) < 0.065
    # cells of 4 x 4 patches are hidden or shown together
    v = sample_visible(4, n_views=2, grid=(8, 8), generator=g)
    cells = v.view(4, 2, 2, 4, 2, 4)
    assert bool((cells.amin(dim=(3, 5)) == cells.amax(dim=(3, 5))).all())


def test_flags_follow_the_roi_of_visible_patches():
    cam = torch.zeros(1, 2, 2, 2)
    cam[0, 0, 0, 0] = 0.9  # level 2
    cam[0, 0, 0, 1] = 0.5  # level 1
    cam[0, 1, 1, 1] = 0.9  # class 2 is not tagged: level 0
    levels = roi_levels(cam, torch.tensor([[1.0, 0.0]]), low=0.25, high=0.7)
    assert levels.tolist() == [[[2.0, 1.0], [0.0, 0.0]]]
    visible = torch.tensor([[[[True, False], [False, False]], [[False, False], [True, True]],
                             [[False, True], [True, True]]]])  # fmt: skip
    # sums 2 > 0.2; 0 <= 0.4; 1 > 0.6
    assert view_flags(visible, levels, ratio=0.2).tolist() == [[True, False, True]]


def test_the_same_generator_seed_gives_the_same_masks():
    a = sample_visible(2, n_views=8, grid=(14, 14), generator=torch.Generator().manual_seed(3))
    b = sample_visible(2, n_views=8, grid=(14, 14), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
