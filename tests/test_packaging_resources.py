"""The resources helper finds the top-level resources/ from source, from an installed wheel's data
files, and from a PyInstaller bundle."""

import sys
from pathlib import Path

import pytest
from PIL import Image

from mcc_engine.resources import resource_dir, resource_path

ROOT = Path(__file__).resolve().parents[1]


def test_icon_and_style_are_found_from_the_top_level_folder():
    path = resource_path("icons/mcc-annotate.png")
    assert resource_dir() == ROOT / "resources" == path.parent.parent
    assert Image.open(path).size == (256, 256)
    assert "QAbstractItemView" in resource_path("styles/dark.qss").read_text()


def test_an_installed_copy_is_used_outside_a_checkout(tmp_path, monkeypatch):
    import mcc_engine.resources as resources

    prefix = tmp_path / "venv"
    icon = prefix / "share" / "mcc-annotate" / "icons" / "mcc-annotate.png"
    icon.parent.mkdir(parents=True)
    icon.write_bytes(resource_path("icons/mcc-annotate.png").read_bytes())
    (tmp_path / "site-packages" / "resources").mkdir(parents=True)  # a namesake, not ours
    monkeypatch.setattr(
        resources, "__file__", str(tmp_path / "site-packages" / "mcc_engine" / "resources.py")
    )
    monkeypatch.setattr(resources.sysconfig, "get_path", lambda kind, scheme=None: str(prefix))
    assert resource_path("icons/mcc-annotate.png") == icon


def test_bundle_location_is_used_when_frozen(tmp_path, monkeypatch):
    icon = tmp_path / "resources" / "icons" / "mcc-annotate.png"
    icon.parent.mkdir(parents=True)
    icon.write_bytes(resource_path("icons/mcc-annotate.png").read_bytes())
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_path("icons/mcc-annotate.png") == icon


def test_a_missing_resource_is_named():
    with pytest.raises(FileNotFoundError, match=r"icons/nothing\.png"):
        resource_path("icons/nothing.png")
