"""Reading the authors' golden outputs (../shared/golden/authors, or MCC_GOLDEN_DIR).

The folder's README says what every array means; other folders of the same format (other seeds and
shapes) must pass unchanged, so shapes and parameters are read from the files, never written here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch

from mcc_engine.model.network import MCCNet, ModelConfig, build_model

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = Path(os.environ.get("MCC_GOLDEN_DIR", REPO.parent / "shared" / "golden" / "authors"))
# Every case the format defines; each must be in the folder (a missing one fails, never skips).
CASES = ("c01_mcc_", "c02_aff_", "c03_cam_to_label_", "c04_par_", "c05_refine_", "c06_seg_loss_",
         "c07_energy_", "c08_flags_", "c09_lr_schedule", "c10_network_forward_", "c11_step_",
         "c12_inference")  # fmt: skip


def golden_files() -> list[str]:
    """The .npz files the folder's manifest lists (read at collection time)."""
    manifest = GOLDEN_DIR / "manifest.json"
    if not manifest.is_file():
        return [f"<missing {manifest}>"]
    return sorted(name for name in json.loads(manifest.read_text()) if name.endswith(".npz"))


def load(name: str) -> dict[str, np.ndarray]:
    """All arrays of one case; a missing or unreadable file fails the test that asks for it."""
    with np.load(GOLDEN_DIR / name) as data:
        return {key: data[key] for key in data.files}


def tensor(array: np.ndarray) -> torch.Tensor:
    """A torch tensor of a golden array (copied, so tests may change it)."""
    return torch.from_numpy(np.array(array))


def ours_box(box: np.ndarray) -> torch.Tensor:
    """The authors' [y0, y1, x0, x1] boxes as the engine's (y0, x0, y1, x1)."""
    box = np.asarray(box, np.int64)
    return torch.from_numpy(box[:, [0, 2, 1, 3]].copy())


def network_config() -> ModelConfig:
    """The golden network's architecture as a ModelConfig (from c10_network_params.json)."""
    arch = json.loads((GOLDEN_DIR / "c10_network_params.json").read_text())["architecture"]
    decoder_dim = int(re.search(r"\d+", arch["decoder"]).group())
    return ModelConfig(
        backbone="deit_base_patch16_224",  # ImageNet mean and std, as the authors
        num_classes=arch["num_classes_network"] - 1,
        img_size=arch["img_size"],
        aux_layer=arch["aux_layer"],
        overrides={
            "patch_size": arch["patch_size"],
            "embed_dim": arch["embed_dim"],
            "depth": arch["depth"],
            "num_heads": arch["num_heads"],
            "mlp_ratio": arch["mlp_ratio"],
            "qkv_bias": arch["qkv_bias"],
        },
        decoder_dim=decoder_dim,
        proj_hidden=arch["projector"]["hidden"],
        proj_bottleneck=arch["projector"]["bottleneck"],
        proj_out=arch["projector"]["out"],
    )


def momentum() -> float:
    """The teacher's EMA momentum the golden network ran with."""
    arch = json.loads((GOLDEN_DIR / "c10_network_params.json").read_text())["architecture"]
    return float(arch["init_momentum"])


def golden_network(*, ddp: bool = False) -> MCCNet:
    """The authors' saved network, loaded strictly through the engine's own loader."""
    from mcc_engine.model.weights import load_weights_file

    model = build_model(network_config())
    name = "c10_network_state_dict_ddp.pth" if ddp else "c10_network_state_dict.pth"
    load_weights_file(model, GOLDEN_DIR / name)
    return model
