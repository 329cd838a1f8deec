"""PAR: refinement follows image edges, keeps constant maps constant, weights sum as stated."""

import torch

from mcc_engine.method.par import par_affinity, par_refine


def test_par_moves_a_noisy_map_toward_image_edges():
    g = torch.Generator().manual_seed(0)
    image = torch.zeros(1, 3, 32, 32)
    image[..., :, 12:] = 255.0  # the edge is at column 12
    truth = (torch.arange(32) >= 12).float().expand(32, 32)
    blurred = torch.sigmoid((torch.arange(32).float() - 18) / 4).expand(32, 32)  # edge at 18, soft
    noisy = (blurred + 0.2 * torch.randn(32, 32, generator=g)).clamp(0, 1)
    probs = torch.stack([1 - noisy, noisy])[None]
    refined = par_refine(image, probs)
    before = float(((probs[0, 1] > 0.5).float() - truth).abs().mean())
    after = float(((refined[0, 1] > refined[0, 0]).float() - truth).abs().mean())
    assert after < before / 2


def test_a_constant_map_stays_constant_up_to_the_position_term():
    image = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(1)) * 255
    probs = torch.full((1, 2, 20, 20), 0.5)
    # each pass multiplies by the weights' sum, 1 + 0.01 (appearance softmax + 0.01 position)
    refined = par_refine(image, probs, iters=3)
    torch.testing.assert_close(refined, probs * 1.01**3)


def test_affinity_has_48_neighbours_and_sums_to_one_plus_w2():
    image = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    aff = par_affinity(image)
    assert aff.shape == (2, 1, 48, 16, 16)
    torch.testing.assert_close(aff.sum(dim=2), torch.full((2, 1, 16, 16), 1.01))
