"""Several processes under torchrun: NCCL on CUDA, gloo on CPU; rank 0 writes the run."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    """This process's place in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Whether more than one process trains."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files and reports progress."""
        return self.rank == 0


def init_from_env(device_name: str) -> DistContext:
    """Join the process group torchrun set up (if any); one process needs nothing."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank=rank, world=world, local_rank=local_rank)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group."""
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_true(ctx: DistContext, flag: bool) -> bool:
    """Whether every rank says True (used so that a stop request stops every rank at once)."""
    if not ctx.enabled:
        return flag
    value = torch.tensor([0 if flag else 1], dtype=torch.int32)
    if dist.get_backend() == "nccl":
        value = value.cuda()
    dist.all_reduce(value)
    return int(value.item()) == 0


def any_true(ctx: DistContext, flag: bool) -> bool:
    """Whether some rank says True."""
    return not all_true(ctx, not flag)
