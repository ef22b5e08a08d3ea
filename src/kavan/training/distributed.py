"""Single- and multi-process training alike: the process group, the device, and the batch order.

``torchrun --nproc_per_node W -m kavan train ...`` starts W processes with RANK, WORLD_SIZE and LOCAL_RANK in
their environment; ``Distributed.start`` joins them into a process group (gloo on CPU, nccl on GPUs, one GPU per
process) or, without those variables, is a one-process group of its own that never touches torch.distributed.

``GlobalBatchSampler`` makes a run independent of the number of processes: every epoch it draws ONE permutation
of the training set from (seed, epoch), cuts it into global batches of ``batch_size`` (dropping the last
incomplete one) and gives rank r of W the r-th slice of batch_size / W GIFs of each global batch. With gradients
averaged over the ranks (DDP) and per-batch mean losses, W processes therefore take exactly the optimiser steps
that one process takes on the same global batches. It starts at any batch of the epoch, which is what a
resumed run needs.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from kavan.core.errors import KavanError

log = logging.getLogger(__name__)

# Ranks wait for each other at barriers while rank 0 evaluates or another rank fills its share of a feature
# cache; both can take long on a CPU, so the collective timeout is generous.
TIMEOUT = datetime.timedelta(hours=2)


@dataclass(frozen=True)
class Distributed:
    """Where this process stands: rank, world size, its device; ``is_main`` does the logging and writing."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Whether this is the main process (is_main_process: the one rank-0 check)."""
        return is_main_process(self.rank)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def start(cls, device: str = "auto") -> Distributed:
        """Join the torchrun process group when there is one; ``device`` is train.device (auto, cpu, cuda)."""
        cuda = _use_cuda(device)
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            return cls(0, 1, torch.device("cuda" if cuda else "cpu"))
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        if cuda:
            if local_rank >= torch.cuda.device_count():
                raise KavanError(f"process {local_rank} has no GPU of its own: {torch.cuda.device_count()} "
                                 "visible; start at most that many processes per node")
            torch.cuda.set_device(local_rank)
            target = torch.device("cuda", local_rank)
        else:
            target = torch.device("cpu")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
        log.info("process %d of %d on %s (%s)", rank, world, target, dist.get_backend())
        return cls(rank, world, target)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum over ranks of ``tensor`` (the tensor itself in one process)."""
        if self.enabled:
            tensor = tensor.clone()
            dist.all_reduce(tensor)
        return tensor

    def all_gather(self, value: object) -> list[object]:
        """``value`` from every rank, in rank order (picklable Python objects between our own processes)."""
        if not self.enabled:
            return [value]
        values: list[object] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def broadcast(self, value: object) -> object:
        """Rank 0's ``value`` on every rank."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def _use_cuda(device: str) -> bool:
    if device == "cpu":
        return False
    if device == "cuda" and not torch.cuda.is_available():
        raise KavanError("train.device is cuda but no CUDA device is available (set train.device: auto or cpu)")
    return torch.cuda.is_available()


class GlobalBatchSampler(DistributedSampler):
    """This rank's share of each global batch, in a per-epoch seeded order; see the module docstring.

    Use as a DataLoader ``batch_sampler``: it yields lists of batch_size / world_size dataset indices.
    ``set_epoch(e, start_batch=b)`` starts epoch e at global batch b (resuming mid-epoch).
    """

    def __init__(self, n_items: int, batch_size: int, world_size: int, rank: int, seed: int, shuffle: bool = True):
        if batch_size % world_size:
            raise KavanError(f"train.batch_size {batch_size} is the global batch and must be divisible by the "
                             f"number of processes ({world_size})")
        if n_items < batch_size and shuffle:
            raise KavanError(f"{n_items} training GIFs are fewer than one batch of {batch_size}: lower "
                             "train.batch_size")
        super().__init__(range(n_items), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)
        self.n_items = n_items
        self.batch_size = batch_size
        self.local_batch = batch_size // world_size
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        super().set_epoch(epoch)
        self.start_batch = start_batch

    def __len__(self) -> int:
        """Batches in a whole epoch (without the skipped ones); the last incomplete global batch is dropped."""
        return self.n_items // self.batch_size - self.start_batch

    @property
    def batches_per_epoch(self) -> int:
        return self.n_items // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n_items, generator=generator).tolist()
        else:
            order = list(range(self.n_items))
        offset = self.rank * self.local_batch
        for batch in range(self.start_batch, self.batches_per_epoch):
            start = batch * self.batch_size + offset
            yield order[start:start + self.local_batch]


def is_main_process(rank: int | None = None) -> bool:
    """Whether ``rank`` is rank 0, the process that prints and writes shared files. Without ``rank``: this
    process's, from torchrun's RANK (0 without torchrun), for callers that have no ``Distributed`` at hand."""
    return (int(os.environ.get("RANK", "0")) if rank is None else rank) == 0


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
