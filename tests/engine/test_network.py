"""The MCC network: output shapes, CAMs, aux tokens, checkpoint key names, parameter groups."""

import pytest
import torch
from torch import nn

from mcc_engine.model.network import ModelConfig
from tests.engine.tiny import TINY, tiny_model


def test_forward_gives_every_output_with_its_shape():
    model = tiny_model(num_classes=3)
    out = model(torch.randn(2, 3, 48, 40))  # not square: 6 x 5 tokens
    assert out["cls"].shape == (2, 64)
    assert out["tokens"].shape == out["aux_tokens"].shape == (2, 64, 6, 5)
    assert out["logits"].shape == out["aux_logits"].shape == (2, 3)
    assert out["seg"].shape == (2, 4, 6, 5)
    assert model.patch_size == 8


def test_tokens_match_timm_and_aux_tokens_are_block_minus_three_before_the_norm():
    model = tiny_model().eval()
    x = torch.randn(1, 3, 48, 48)  # the native size: no position embedding resize
    out = model(x)
    final = model.encoder.forward_features(x)[:, 1:].transpose(1, 2).reshape(1, 64, 6, 6)
    torch.testing.assert_close(out["tokens"], final)
    (aux,) = model.encoder.forward_intermediates(
        x, indices=[1], norm=False, intermediates_only=True
    )
    torch.testing.assert_close(out["aux_tokens"], aux)  # depth 4: block -3 is block 1


def test_position_embeddings_are_frozen_and_resized_without_antialiasing():
    model = tiny_model()
    assert not model.encoder.pos_embed.requires_grad
    small = model.position_embeddings(3, 3)
    # timm shrinks with antialiasing; the authors (and the engine) do not, so the two differ
    from timm.layers import resample_abs_pos_embed

    timm_small = resample_abs_pos_embed(
        model.encoder.pos_embed, new_size=(3, 3), num_prefix_tokens=1
    )[:, 1:]
    assert small.shape == timm_small.shape == (1, 9, 64)
    assert not torch.allclose(small, timm_small, atol=1e-4)
    torch.testing.assert_close(model.position_embeddings(6, 6), model.encoder.pos_embed[:, 1:])


def test_inputs_not_a_multiple_of_the_patch_drop_the_last_pixels():
    model = tiny_model().eval()
    x = torch.randn(1, 3, 53, 44)
    torch.testing.assert_close(model(x)["tokens"], model(x[..., :48, :40])["tokens"])


def test_cam_is_the_raw_classifier_on_every_token():
    model = tiny_model()
    x = torch.randn(1, 3, 32, 32)
    out = model(x)
    cam = model.cam(x)
    expected = torch.einsum("kd,bdhw->bkhw", model.classifier.weight[:, :, 0, 0], out["tokens"])
    torch.testing.assert_close(cam, expected)
    assert bool((cam < 0).any())  # no ReLU
    # class logits are the classifier on the global max pool of the tokens
    torch.testing.assert_close(out["logits"], (model.classifier.weight[:, :, 0, 0]
                               @ out["tokens"].amax(dim=(2, 3))[0])[None])  # fmt: skip
    assert model.cam(x, aux=True).shape == (1, 3, 4, 4)


def test_state_dict_keys_follow_the_authors_checkpoints():
    model = tiny_model()
    keys = set(model.state_dict())
    for key in ("encoder.cls_token", "encoder.blocks.0.attn.qkv.weight", "classifier.weight",
                "aux_classifier.weight", "decoder.conv6.weight", "decoder.conv7.weight",
                "decoder.conv8.weight", "proj_head.mlp.0.weight", "proj_head.last_layer.weight_g",
                "proj_head.last_layer.weight_v", "proj_head_t.last_layer.weight_g"):  # fmt: skip
        assert key in keys, key
    assert not any(k.startswith("decoder.") and k.endswith(".bias") for k in keys)
    assert model.classifier.weight.shape == (3, 64, 1, 1)
    assert "pixel_mean" not in keys  # from the backbone's config, not from checkpoints
    mean = model.encoder.pretrained_cfg["mean"]
    torch.testing.assert_close(model.pixel_mean, torch.tensor(mean, dtype=torch.float32))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # the classic API names the keys
def test_weight_normalised_last_layer_equals_torch_weight_norm_with_the_same_keys():
    head = tiny_model().proj_head.last_layer
    with torch.no_grad():
        head.weight_v.mul_(3.0)
    ref = nn.utils.weight_norm(nn.Linear(32, 64, bias=False))
    ref.load_state_dict(head.state_dict())
    x = torch.randn(5, 32)
    torch.testing.assert_close(head(x), ref(x))
    assert not head.weight_g.requires_grad


def test_param_groups_leave_out_the_teacher_and_cover_every_trainable_parameter():
    model = tiny_model()
    encoder, heads = model.param_groups()
    ids = {id(p) for p in encoder + heads}
    assert len(ids) == len(encoder) + len(heads)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert ids == trainable
    assert not any(id(p) in ids for p in model.proj_head_t.parameters())
    frozen = {id(model.encoder.pos_embed)}
    assert {id(p) for p in model.encoder.parameters()} - frozen == {id(p) for p in encoder}


def test_model_config_round_trips():
    cfg = ModelConfig(num_classes=3, **TINY)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
