"""Interactive segmentation tools on numpy arrays (no Qt): click to segment, box, colour wand.

`ClickModel` and `model_evidence` need torch and are loaded on first use, so that the app's
tools (which import this package on the GUI thread) do not load torch before a model is wanted.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from mcc_engine.interactive.evidence import ImageEvidence, image_evidence
from mcc_engine.interactive.propose import ProposeSettings
from mcc_engine.interactive.session import Click, ClickSession
from mcc_engine.interactive.wand import colour_wand

if TYPE_CHECKING:
    from mcc_engine.interactive.model_pass import ClickModel, model_evidence

_WITH_TORCH = ("ClickModel", "model_evidence")


def __getattr__(name: str):
    if name in _WITH_TORCH:
        return getattr(import_module("mcc_engine.interactive.model_pass"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Click",
    "ClickModel",
    "ClickSession",
    "ImageEvidence",
    "ProposeSettings",
    "colour_wand",
    "image_evidence",
    "model_evidence",
]
