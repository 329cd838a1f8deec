"""Run by the DDP test under torchrun: train a few steps, then save this rank's weights."""

import os
import sys

import torch

from mcc_engine.train.config import TrainConfig
from mcc_engine.train.trainer import train

data, out, dump = sys.argv[1:4]
rank = int(os.environ["RANK"])
result = train(TrainConfig(data=data, out=out, preset="tiny", iters=3, device="cpu"))
torch.save(result.model.state_dict(), os.path.join(dump, f"rank{rank}.pt"))
