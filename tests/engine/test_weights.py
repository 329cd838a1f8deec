"""Weights from files made here: a timm state dict, the authors' MCC layout, and bad files."""

import pytest
import timm
import torch

from mcc_engine.errors import InputError
from mcc_engine.model.weights import load_imagenet, load_weights_file
from tests.engine.tiny import TINY, tiny_model


def _timm_state(seed=3):
    torch.manual_seed(seed)
    vit = timm.create_model(TINY["backbone"], pretrained=False, num_classes=0,
                            img_size=TINY["img_size"], **TINY["overrides"])  # fmt: skip
    return vit.state_dict()


def test_a_timm_state_dict_fills_the_encoder(tmp_path):
    state = _timm_state()
    torch.save({"model": state}, tmp_path / "vit.pth")
    model = tiny_model()
    load_weights_file(model, tmp_path / "vit.pth")
    torch.testing.assert_close(
        model.encoder.blocks[0].attn.qkv.weight, state["blocks.0.attn.qkv.weight"]
    )


def test_a_timm_state_dict_of_another_grid_is_resampled(tmp_path):
    state = _timm_state()
    torch.save(state, tmp_path / "vit.pth")
    other = dict(TINY, img_size=64)
    from mcc_engine.model.network import ModelConfig, build_model

    model = build_model(ModelConfig(num_classes=3, **other))
    load_weights_file(model, tmp_path / "vit.pth")
    assert model.encoder.pos_embed.shape[1] == 1 + 8 * 8


def test_an_mcc_checkpoint_with_module_prefix_loads_and_a_new_tag_set_keeps_the_encoder(tmp_path):
    source = tiny_model(num_classes=3, seed=5)
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    torch.save(state, tmp_path / "mcc.pth")
    same = tiny_model(num_classes=3, seed=9)
    load_weights_file(same, tmp_path / "mcc.pth")
    torch.testing.assert_close(same.classifier.weight, source.classifier.weight)

    data = {"model": source.state_dict(), "classes": ["cat", "dog", "sofa"]}
    torch.save(data, tmp_path / "ours.pt")
    other = tiny_model(num_classes=2, seed=9)
    report = load_weights_file(other, tmp_path / "ours.pt", classes=["dog", "horse"])
    torch.testing.assert_close(other.encoder.pos_embed, source.encoder.pos_embed)
    assert "classifier.weight" in report.reinitialised
    assert report.copied_classes == ["dog"]
    torch.testing.assert_close(other.classifier.weight[0], source.classifier.weight[1])
    torch.testing.assert_close(other.decoder.conv8.weight[1], source.decoder.conv8.weight[2])


def test_files_that_are_not_checkpoints_or_do_not_fit_are_named(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00 definitely not a checkpoint")
    with pytest.raises(InputError, match=r"junk\.pt: not a checkpoint"):
        load_weights_file(tiny_model(), tmp_path / "junk.pt")
    state = _timm_state()
    state["blocks.0.attn.qkv.weight"] = torch.zeros(5, 5)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(InputError, match=r"wrong shapes: blocks\.0\.attn\.qkv\.weight"):
        load_weights_file(tiny_model(), tmp_path / "shape.pth")
    torch.save({"foo": torch.zeros(1)}, tmp_path / "foreign.pth")
    with pytest.raises(InputError, match="neither a timm ViT state dict nor an MCC checkpoint"):
        load_weights_file(tiny_model(), tmp_path / "foreign.pth")


def test_imagenet_weights_offline_say_how_to_proceed(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="--weights FILE"):
        load_imagenet(tiny_model())


def test_decoder_biases_of_an_older_checkpoint_follow_the_class_rows(tmp_path):
    from mcc_engine.model.network import ModelConfig, build_model
    from tests.engine.tiny import TINY

    source = build_model(ModelConfig(num_classes=3, decoder_bias=True, **TINY))
    torch.save({"model": source.state_dict(), "classes": ["cat", "dog", "sofa"]}, tmp_path / "a.pt")
    other = build_model(ModelConfig(num_classes=2, decoder_bias=True, **TINY))
    report = load_weights_file(other, tmp_path / "a.pt", classes=["dog", "horse"])
    assert "decoder.conv8.bias" in report.reinitialised
    torch.testing.assert_close(other.decoder.conv8.bias[:2], source.decoder.conv8.bias[[0, 2]])
    torch.testing.assert_close(other.decoder.conv6.bias, source.decoder.conv6.bias)
