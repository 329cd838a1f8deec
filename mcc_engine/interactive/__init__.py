"""Interactive segmentation tools on numpy arrays (no Qt): click to segment, box, colour wand."""

from mcc_engine.interactive.evidence import ImageEvidence, image_evidence
from mcc_engine.interactive.model_pass import ClickModel, model_evidence
from mcc_engine.interactive.propose import ProposeSettings
from mcc_engine.interactive.session import Click, ClickSession
from mcc_engine.interactive.wand import colour_wand

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
