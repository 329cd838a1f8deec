"""ImageNet weights in the hub cache, without Qt: the reachability probe, an offline download,
and a local timm state dict that is checked and then loaded by timm."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import timm
import torch
from huggingface_hub import constants

from mcc_engine.errors import InputError
from mcc_engine.model.hub import (
    cached_weights,
    download_weights,
    hub_reachable,
    install_local_weights,
    missing_weights,
)
from mcc_engine.train.config import PRESETS


@pytest.fixture(autouse=True)
def hub_cache(tmp_path, monkeypatch):
    """An empty hub cache in tmp_path, and the hub's offline mode as the tests' conftest sets it."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


@pytest.fixture
def silent_hub(monkeypatch):
    """Online mode, but the hub is a local socket that accepts and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    yield
    server.close()


class _Answer(BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_probe_tells_an_answering_hub_from_a_silent_one(silent_hub):
    assert not hub_reachable(0.5)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        constants.ENDPOINT = f"http://127.0.0.1:{server.server_address[1]}"
        assert hub_reachable(5.0)
    finally:
        server.shutdown()
        server.server_close()


def test_a_download_without_a_network_returns_none(silent_hub):
    got = download_weights(
        "deit_small_patch16_224", progress=lambda _: None, should_stop=lambda: False, timeout=0.5
    )
    assert got is None and cached_weights("deit_small_patch16_224") is None


def test_presets_that_need_imagenet_weights_name_their_backbone():
    assert missing_weights("gpu") == PRESETS["gpu"]["backbone"]
    assert missing_weights("demo") is None  # trained from scratch


def test_a_local_timm_state_dict_is_installed_where_timm_finds_it(tmp_path):
    source = timm.create_model("test_vit", pretrained=False)
    path = tmp_path / "my weights.pth"
    torch.save(source.state_dict(), path)
    target = install_local_weights("test_vit", path)
    assert cached_weights("test_vit") == target
    loaded = timm.create_model("test_vit", pretrained=True).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())


def test_weights_of_another_backbone_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(timm.create_model("test_vit2", pretrained=False).state_dict(), path)
    with pytest.raises(InputError, match="not a timm state dict of test_vit") as caught:
        install_local_weights("test_vit", path)
    assert caught.value.path == path
    assert cached_weights("test_vit") is None
