"""The first-start weights dialog: offline it says so and offers from-scratch presets; a local
timm state dict is accepted through it; the model panel asks first. The hub logic itself is
tested without Qt in tests/engine/test_hub.py."""

import socket

import pytest
import timm
import torch
from huggingface_hub import constants
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog

from app.model_panel import ModelPanel
from app.weights_dialog import WeightsDialog
from mcc_engine.model.hub import SCRATCH_PRESETS, cached_weights
from mcc_engine.train.config import PRESETS


@pytest.fixture(autouse=True)
def hub_cache(tmp_path, monkeypatch):
    """An empty hub cache in tmp_path, and the hub's offline mode as the tests' conftest sets it."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


@pytest.fixture
def silent_hub(monkeypatch):
    """Online mode, but the hub is a local socket that accepts and never answers: nothing can be
    downloaded, and the dialog must give up after its short timeout instead of hanging."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    yield
    server.close()


def _dialog(qtbot, backbone="deit_small_patch16_224"):
    dialog = WeightsDialog(None, preset="gpu", backbone=backbone)
    dialog.probe_timeout = 0.5
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


@pytest.mark.parametrize("network", ["offline mode", "silent hub"])
def test_offline_download_says_so_and_offers_the_scratch_presets(qtbot, request, network):
    if network == "silent hub":
        request.getfixturevalue("silent_hub")
    dialog = _dialog(qtbot)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "No internet connection" in dialog.status.text(), timeout=20000)
    assert dialog.scratch_button.isEnabled() and dialog.scratch_button.isDefault()
    assert [dialog.scratch.itemText(i) for i in range(dialog.scratch.count())] == list(
        SCRATCH_PRESETS
    )
    assert set(SCRATCH_PRESETS) == {"demo", "cpu"}
    assert cached_weights("deit_small_patch16_224") is None
    dialog.scratch.setCurrentText("cpu")
    qtbot.mouseClick(dialog.scratch_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.scratch_preset == "cpu"


def test_local_timm_state_dict_is_accepted_and_timm_loads_it(qtbot, tmp_path, monkeypatch):
    source = timm.create_model("test_vit", pretrained=False)
    path = tmp_path / "my weights.pth"
    torch.save(source.state_dict(), path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    dialog = _dialog(qtbot, backbone="test_vit")
    qtbot.mouseClick(dialog.file_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=20000)
    assert dialog.scratch_preset is None
    assert cached_weights("test_vit") is not None
    # The engine's "imagenet" weights go through this call; offline, it now reads our file.
    loaded = timm.create_model("test_vit", pretrained=True).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())


def test_weights_of_another_backbone_are_refused(qtbot, tmp_path, monkeypatch):
    path = tmp_path / "other.pth"
    torch.save(timm.create_model("test_vit2", pretrained=False).state_dict(), path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    dialog = _dialog(qtbot, backbone="test_vit")
    qtbot.mouseClick(dialog.file_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not a timm state dict of test_vit" in dialog.status.text())
    assert dialog.isVisible() and dialog.file_button.isEnabled()
    assert cached_weights("test_vit") is None


def test_fine_tune_with_an_imagenet_preset_asks_first(qtbot):
    panel = ModelPanel("CPU")
    qtbot.addWidget(panel)
    panel.preset.setCurrentText("gpu")
    seen = []

    def answer():  # runs inside the dialog's own event loop
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, WeightsDialog):
            QTimer.singleShot(10, answer)
            return
        seen.append(dialog.backbone)
        dialog.scratch.setCurrentText("demo")
        dialog.scratch_button.click()

    QTimer.singleShot(0, answer)
    with qtbot.waitSignal(panel.fine_tune, timeout=10000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert seen == [PRESETS["gpu"]["backbone"]]
    assert panel.preset.currentText() == "demo"
    assert panel.iters.value() == PRESETS["demo"]["iters"]
