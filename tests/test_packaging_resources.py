"""The resources helper finds shipped files from source and from a PyInstaller bundle."""

import sys

import pytest
from PIL import Image

from mcc_engine.resources import resource_dir, resource_path


def test_icon_is_found_from_source():
    path = resource_path("icons/mcc-annotate.png")
    assert path.parent.parent == resource_dir()
    assert Image.open(path).size == (256, 256)


def test_bundle_location_is_used_when_frozen(tmp_path, monkeypatch):
    icon = tmp_path / "mcc_engine" / "resources" / "icons" / "mcc-annotate.png"
    icon.parent.mkdir(parents=True)
    icon.write_bytes(resource_path("icons/mcc-annotate.png").read_bytes())
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_path("icons/mcc-annotate.png") == icon


def test_a_missing_resource_is_named():
    with pytest.raises(FileNotFoundError, match=r"icons/nothing\.png"):
        resource_path("icons/nothing.png")
