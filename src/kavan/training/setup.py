"""Setting up one training run (kavan.training.trainer.train_split): the split (``split_ids``), the run folder
(``open_run``: new, or resumed from its checkpoint; run.json's start record; ``failure_recorded``), the data
(``_prepare_data``: decoding, the feature cache, the glimpse cache), the model and its starting weights, the
training loader, the optimiser, schedule and gradient scaler (``_optimisation``), the progress (``_resume``), all
gathered in a ``Run``. What the trainer's loop then does with a Run is kavan.training.trainer's.
"""


from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from kavan import __version__
from kavan.config import KavanConfig, config_hash
from kavan.core.atomic import write_json, write_text
from kavan.core.errors import KavanError
from kavan.core.workers import loader_worker_init
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import FeatureCache, cache_key
from kavan.data.loader import Clip, ClipDataset, FeatureClipDataset, prepare_clips, undecodable
from kavan.models import KAVAN
from kavan.models.storage import load_weights
from kavan.training import run_log
from kavan.training.checkpoint import Checkpoint, load_checkpoint, restore_rng
from kavan.training.distributed import Distributed, GlobalBatchSampler
from kavan.training.glimpses import GlimpseCache, fill_glimpses, fit_split_localiser
from kavan.training.init_weights import InitSource, apply_init, init_record, report_lines
from kavan.training.losses import TargetStats
from kavan.training.progress import TrainProgress
from kavan.training.provenance import dataset_record, git_commit

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "checkpoint.safetensors"
MODEL_FILE = "model.safetensors"
BEST_FILE = "best.safetensors"  # train.select best_val: the weights of the best validation epoch so far
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.safetensors"
CACHE_SUBDIR = Path("cache") / "features"


@dataclass(frozen=True)
class SplitIds:
    """The ids of one split: train (what the model is fitted on), val (held out of train, may be empty), test."""

    index: int
    source: str
    train: list[str]
    val: list[str]
    test: list[str]


@dataclass
class SplitData:
    """The split's usable clips, what was left out and why, and the filled feature cache (or None)."""

    dataset: Dataset
    ids: SplitIds
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]
    excluded: dict[str, str]
    keypoints_ignored: dict[str, str]
    cache: FeatureCache | None
    glimpses: GlimpseCache | None = None  # a glimpse row's cached glimpses (kavan.training.glimpses)


@dataclass
class Run:
    """What ``set_up`` builds and the steps share: the locals of torchvision's ``main``, named.

    ``progress`` is where the run stands (kavan.training.progress.TrainProgress), saved in every checkpoint.
    """

    config: KavanConfig
    dist: Distributed
    run_dir: Path
    info: dict[str, Any]  # run.json
    trained_on: dict[str, Any]  # the record every model file of the run carries
    data: SplitData
    model: KAVAN
    net: torch.nn.Module  # the model, or its DDP wrapper under torchrun
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler  # a pass-through unless train.amp is fp16 (grad_scaler)
    trainable: list[torch.Tensor]
    target_stats: TargetStats
    train_set: Any
    sampler: GlobalBatchSampler
    loader_generator: torch.Generator
    train_loader: DataLoader
    val_loader: DataLoader | None
    board: run_log.TensorBoard
    progress: TrainProgress
    epochs: int
    show_progress: bool


def split_ids(dataset: Dataset, config: KavanConfig, split: int, split_file: str | os.PathLike[str] | None) -> SplitIds:
    """Split ``split`` of the config's seeded splits (or of a split file), with the validation hold-out."""
    data = config.data
    if split_file is not None:
        splits = dataset.read_split_file(split_file)
        source = f"split file {split_file}"
    else:
        splits = dataset.splits(data.n_splits, data.split_seed, data.train_fraction, data.split_mode)
        source = (f"seeded: n_splits={data.n_splits}, split_seed={data.split_seed}, "
                  f"train_fraction={data.train_fraction}, split_mode={data.split_mode}")
    if not 0 <= split < len(splits):
        raise KavanError(f"split {split} does not exist: there are {len(splits)} (0..{len(splits) - 1})")
    train, test = splits[split]
    val: list[str] = []
    if data.val_fraction > 0:
        order = np.random.default_rng([data.split_seed, split, 1]).permutation(len(train))
        n_val = max(1, round(data.val_fraction * len(train)))
        held = set(order[:n_val].tolist())
        val = [gif for i, gif in enumerate(train) if i in held]
        train = [gif for i, gif in enumerate(train) if i not in held]
    return SplitIds(split, source, list(train), val, list(test))


def n_epochs(epochs: int, min_steps: int, per_epoch: int) -> int:
    """The epochs a run takes: ``epochs``, raised so that the run makes at least ``min_steps`` optimiser steps."""
    return max(epochs, -(-min_steps // max(1, per_epoch)))


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Learning-rate multiplier at optimiser step ``step``: linear warm-up, then constant or cosine to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup_steps) / span)))


def parameter_groups(model: KAVAN, config: KavanConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: everything trainable at train.lr, except the backbone's trainable part,
    which gets lr × train.backbone_lr_scale when that is not 1 (then in a second group, so the first group's lr is
    the one logged)."""
    backbone = {id(p) for p in model.backbone.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    scale = config.train.backbone_lr_scale
    if scale == 1.0:
        return [{"params": trainable}]
    rest = [p for p in trainable if id(p) not in backbone]
    tail = [p for p in trainable if id(p) in backbone]
    return [{"params": rest}] + ([{"params": tail, "lr": config.train.lr * scale}] if tail else [])


def open_run(run_dir: Path, config: KavanConfig, resume: bool, init_sha: str | None) -> Checkpoint | None:
    """The run folder's checkpoint when resuming one (refused if it was made with another config, or started
    from another --init file than ``init_sha``'s, or without one), else None; a non-empty folder without
    ``resume`` is refused, so no run overwrites another."""
    if resume and (run_dir / CHECKPOINT_FILE).is_file():
        path = run_dir / CHECKPOINT_FILE
        checkpoint = load_checkpoint(path)
        if config_hash(checkpoint.config) != config_hash(config):
            raise KavanError("the checkpoint was made with another config; resume with the run's own config.yaml "
                             "or start a new run folder", path)
        started = checkpoint.trained_on.get("init")
        if init_sha is not None and started is None:
            raise KavanError("the run was started without --init; resume it without --init, or start a new run "
                             "folder to fine-tune", path)
        if init_sha is not None and started.get("sha256") != init_sha:
            raise KavanError(f"the run was started from --init {started.get('path')} (SHA-256 "
                             f"{str(started.get('sha256'))[:12]}), not from this file (SHA-256 {init_sha[:12]}); "
                             "resume it with that file or without --init", path)
        return checkpoint
    if run_dir.is_dir() and any(run_dir.iterdir()) and not resume:
        raise KavanError("run folder exists and is not empty: pass --resume to continue it, or choose a new "
                         "--out", run_dir)
    return None


def set_up(config: KavanConfig, dist: Distributed, run_dir: Path, dataset: Dataset, ids: SplitIds,
           checkpoint: Checkpoint | None, cache_root: Path, show_progress: bool,
           command: list[str] | None, init: InitSource | None = None, init_partial: bool = False) -> Run:
    """Everything the epochs need, in the order that fixes the random draws: the model is initialised from
    train.seed before anything else draws, and a resumed run restores the generators after all is built.

    The starting weights (the checkpoint's, or ``init``'s) are in the model before the run folder is written (an
    --init file that is refused leaves no run behind) and before the feature cache is keyed and filled: its key
    hashes the frozen part's weights as they are, so a cache made with other weights is never reused."""
    torch.manual_seed(config.train.seed)
    model = channels_last(KAVAN(config.model).to(dist.device))
    init_info = _starting_weights(model, run_dir, checkpoint, init, init_partial, dist)  # a refusal writes nothing
    info = _start_run_info(config, dist, run_dir, dataset, ids, checkpoint, command)
    with failure_recorded(run_dir, info, dist):  # from here on a failure is recorded in run.json
        data = _prepare_data(dataset, ids, model, config, dist, cache_root, show_progress)
        info.update(init=init_info, excluded=data.excluded, keypoints_ignored=data.keypoints_ignored,
                    feature_cache=str(data.cache.folder) if data.cache is not None else None)
        if dist.is_main:
            write_json(run_dir / RUN_FILE, info)
        if not any(clip.has_keypoints for clip in data.train) and config.loss.keypoint_supervision:
            log.warning("keypoint supervision is on but no training GIF has keypoints: the keypoint loss stays 0")
        train_set = clip_set(data, config, model, data.train, True, show_progress)
        sampler, loader_generator, train_loader = _train_loader(train_set, config, dist)
        target_stats = TargetStats.of(np.stack([dataset.scores[clip.row] for clip in data.train]), dist.device)
        trainable = [p for p in model.parameters() if p.requires_grad]
        epochs = n_epochs(config.train.epochs, config.train.min_steps, sampler.batches_per_epoch)
        optimizer, scheduler, scaler = _optimisation(model, config, dist.device, sampler.batches_per_epoch, epochs)
        progress = _resume(checkpoint, run_dir, optimizer, scheduler, scaler)
        net: torch.nn.Module = model
        if dist.enabled:
            net = DistributedDataParallel(model, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
        board = run_log.TensorBoard(run_dir if dist.is_main else None, purge_step=progress.step or None)
        val_loader = None
        if data.val and dist.is_main:
            val_loader = eval_loader(clip_set(data, config, model, data.val, False, show_progress), config)
        trained_on = {"dataset": info["dataset"], "split": info["split"], "run": str(run_dir.resolve()),
                      "config_hash": config_hash(config), "code": info["code"]}
        if init_info is not None:
            trained_on["init"] = init_info
        return Run(config=config, dist=dist, run_dir=run_dir, info=info, trained_on=trained_on, data=data, model=model,
                   net=net, optimizer=optimizer, scheduler=scheduler, scaler=scaler, trainable=trainable,
                   target_stats=target_stats, train_set=train_set, sampler=sampler, loader_generator=loader_generator,
                   train_loader=train_loader, val_loader=val_loader, board=board, progress=progress, epochs=epochs,
                   show_progress=show_progress)


def _starting_weights(model: KAVAN, run_dir: Path, checkpoint: Checkpoint | None, init: InitSource | None,
                      partial: bool, dist: Distributed) -> dict[str, Any] | None:
    """Put the run's starting weights into ``model``: a resumed run's checkpoint's (its --init is never applied
    again, and its record is kept), else the --init file's (reported on rank 0), else the config's as built.
    Returns the run's init record, or None."""
    if checkpoint is not None:
        load_weights(model, checkpoint.model, run_dir / CHECKPOINT_FILE)
        return checkpoint.trained_on.get("init")
    if init is None:
        return None
    match = apply_init(model, init, partial)
    if dist.is_main:
        for line in report_lines(init, model, match):
            log.info("%s", line)
    return init_record(init, match, partial)


@contextlib.contextmanager
def failure_recorded(run_dir: Path, info: dict[str, Any], dist: Distributed) -> Iterator[None]:
    """Mark run.json ``"status": "failed"``, with the error, when anything inside raises (rank 0), then let the
    error go on as it was: a run.json left at ``running`` reads as a run still going. A status set already
    (``diverged``, ``finished``) is kept; a failure to write run.json is logged, never raised over the run's own."""
    try:
        yield
    except BaseException as err:
        if dist.is_main and info.get("status") == "running":
            info.update(status="failed", error=_failure_message(err), finished=now())
            try:
                write_json(run_dir / RUN_FILE, info)
            except Exception as write_error:  # the run's own error is the one to raise
                log.warning("%s: could not mark the run failed in %s: %s", run_dir, RUN_FILE, write_error)
        raise


def _failure_message(err: BaseException) -> str:
    """run.json's ``error`` of a failed run: a KavanError's message, else the exception's type and text."""
    if isinstance(err, KavanError):
        return str(err)
    if isinstance(err, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt); --resume goes on from the last checkpoint"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _start_run_info(config: KavanConfig, dist: Distributed, run_dir: Path, dataset: Dataset, ids: SplitIds,
                    checkpoint: Checkpoint | None, command: list[str] | None) -> dict[str, Any]:
    """run.json as the run starts (written by rank 0, with config.yaml): a resumed run keeps the first start
    and adds itself to the list of resumes."""
    record = dataset_record(dataset)
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / CONFIG_FILE, yaml.safe_dump(config.to_dict(), sort_keys=False))
    info = {
        "kavan_version": __version__,
        "command": command if command is not None else sys.argv,
        "config_hash": config_hash(config),
        "config": config.to_dict(),
        "dataset": record,
        "split": {"index": ids.index, "source": ids.source, "n_train": len(ids.train), "n_val": len(ids.val),
                  "n_test": len(ids.test)},
        "code": git_commit(),
        "device": str(dist.device),
        "world_size": dist.world_size,
        "started": now(),
        "status": "running",
    }
    if checkpoint is not None:
        earlier = read_json(run_dir / RUN_FILE)
        info["started"] = earlier.get("started", info["started"])
        info["resumed"] = [*earlier.get("resumed", []), {"at": now(), "step": checkpoint.progress["step"]}]
    if dist.is_main:
        write_json(run_dir / RUN_FILE, info)
    return info


def _train_loader(train_set, config: KavanConfig, dist: Distributed):
    """The sampler of global batches, the loader's own generator (reseeded every epoch, so that making the
    loader never draws from the global generator dropout uses) and the loader."""
    sampler = GlobalBatchSampler(len(train_set), config.train.batch_size, dist.world_size, dist.rank,
                                 config.train.seed)
    generator = torch.Generator()
    loader = DataLoader(train_set, batch_sampler=sampler, num_workers=config.train.workers, generator=generator,
                        pin_memory=dist.device.type == "cuda", worker_init_fn=loader_worker_init())
    return sampler, generator, loader


def _optimisation(model: KAVAN, config: KavanConfig, device: torch.device, per_epoch: int, epochs: int):
    """The optimiser (parameter_groups), the per-step schedule (lr_factor) and the gradient scaler."""
    optimizer_cls = torch.optim.AdamW if config.train.optimizer == "adamw" else torch.optim.Adam
    optimizer = optimizer_cls(parameter_groups(model, config), lr=config.train.lr,
                              weight_decay=config.train.weight_decay)
    total_steps = per_epoch * epochs
    warmup = round(config.train.warmup_epochs * per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup, config.train.schedule))
    return optimizer, scheduler, grad_scaler(config.train.amp, device)


def _resume(checkpoint: Checkpoint | None, run_dir: Path, optimizer: torch.optim.Optimizer,
            scheduler: Any, scaler: torch.amp.GradScaler) -> TrainProgress:
    """The run's progress: a new run's, or the checkpoint's after its states are loaded into the optimiser,
    schedule, scaler and random generators (its weights are in ``model`` already: ``_starting_weights``)."""
    if checkpoint is None:
        return TrainProgress()
    optimizer.load_state_dict(checkpoint.optimizer)
    scheduler.load_state_dict(checkpoint.scheduler)
    if scaler.is_enabled() and checkpoint.scaler is not None:
        scaler.load_state_dict(checkpoint.scaler)
    restore_rng(checkpoint.rng)
    progress = TrainProgress.from_dict(checkpoint.progress)
    log.info("resuming %s at epoch %d, batch %d (step %d)", run_dir, progress.epoch + 1, progress.batch,
             progress.step)
    return progress


def _prepare_data(dataset: Dataset, ids: SplitIds, model: KAVAN, config: KavanConfig, dist: Distributed,
                  cache_root: Path, progress: bool) -> SplitData:
    """Usable clips of the split's parts, and the filled feature cache when the config trains on one."""
    prepared = prepare_clips(dataset, ids.train + ids.val + ids.test, progress)
    excluded, ignored = dict(prepared.excluded), prepared.keypoints_ignored
    cache = None
    if config.train.feature_cache:
        cache = FeatureCache(cache_root, cache_key(model, config.data.cache_frames, config.data.cache_dtype))
        try:
            report = cache.fill(dataset, prepared.clips, frozen_encoder(model),
                                workers=config.train.workers, progress=progress, rank=dist.rank,
                                world_size=dist.world_size)
        except PermissionError as err:
            raise KavanError(f"cannot write the feature cache ({err.strerror}); choose a writable --cache-dir",
                             cache_root) from None
        failed: dict[str, str] = {}
        for part in dist.all_gather(report.failed):
            failed.update(part)
        excluded.update(failed)
        if dist.is_main:
            log.info("feature cache %s: %d reused, %d computed, %d failed", cache.folder, report.reused,
                     report.computed, len(failed))
        dist.barrier()
    else:  # end to end: a frame that cannot be decoded leaves its GIF out now, not the run later
        for part in dist.all_gather(undecodable(dataset, prepared.clips, config.train.workers, progress,
                                                dist.rank, dist.world_size)):
            excluded.update(part)
    usable = {clip.gif_id: clip for clip in prepared.clips if clip.gif_id not in excluded}
    parts = [[usable[g] for g in part if g in usable] for part in (ids.train, ids.val, ids.test)]
    glimpses = None
    if cache is not None and model.glimpses is not None:  # beyond the paper: fit the localiser, cache glimpses
        if not bool(model.glimpses.fitted):
            fit_split_localiser(model, dataset, parts[0], cache, config, progress)
        glimpses = GlimpseCache(cache_root, cache, model)
        failed = fill_glimpses(glimpses, model, dataset, parts[0] + parts[1] + parts[2], progress)
        excluded.update(failed)
        parts = [[clip for clip in part if clip.gif_id not in failed] for part in parts]
    if not parts[0] or not parts[2]:
        raise KavanError(f"split {ids.index} has no usable training or test GIF ({len(excluded)} excluded)",
                         dataset.root)
    return SplitData(dataset, ids, parts[0], parts[1], parts[2], excluded, ignored, cache, glimpses)


def clip_set(data: SplitData, config: KavanConfig, model: KAVAN, clips: list[Clip], train: bool, progress: bool):
    """The dataset of ``clips``: cached features when the run has a feature cache, else decoded frames."""
    t, size, cells = config.model.t, config.model.input_size, model.cells
    if data.cache is not None:
        return FeatureClipDataset(data.cache, data.dataset, clips, t, size, cells, config.data, train,
                                  config.train.seed, progress=progress, glimpses=data.glimpses)
    return ClipDataset(data.dataset, clips, t, size, cells, config.data, train, config.train.seed)


def channels_last(model: KAVAN) -> KAVAN:
    """Store the backbone's convolution weights channels-last (NHWC), which runs its convolutions in oneDNN's
    fast layout: MobileNetV2 at 224x224 encodes about 1.7x more frames per second on the CPU (docs/training.md).
    Same numbers up to float rounding; the rest of the network is unchanged."""
    model.backbone.to(memory_format=torch.channels_last)
    return model


def frozen_encoder(model: KAVAN):
    """Normalised frames (N, 3, S, S) → the backbone's frozen part's features (N, C, K, K), through
    KAVAN.encode_frozen: the function a FeatureCache is filled with."""
    device = next(model.parameters()).device
    channels_last(model)

    @torch.inference_mode()
    def encode(frames: torch.Tensor) -> torch.Tensor:
        frames = frames.to(device).contiguous(memory_format=torch.channels_last)
        return model.encode_frozen(frames.unsqueeze(0)).squeeze(0).contiguous()

    return encode


def grad_scaler(amp: str, device: torch.device) -> torch.amp.GradScaler:
    """The gradient scaler: scaling with fp16 autocast (its small gradients would underflow), a pass-through
    otherwise (``enabled=False``: the plain backward and optimiser step)."""
    return torch.amp.GradScaler(device.type, enabled=amp == "fp16")


def eval_loader(dataset, config: KavanConfig) -> DataLoader:
    return DataLoader(dataset, batch_size=config.train.batch_size, shuffle=False, num_workers=config.train.workers,
                      worker_init_fn=loader_worker_init())


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or {} when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def already_finished(run_dir: Path, config: KavanConfig, init_sha: str | None = None) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly this config and, when ``init_sha`` is given, started
    from the --init file of that SHA-256 (a run without --init, or from another file, is another run; without
    ``init_sha`` the run is reused whatever it started from, as a resume without --init goes on with it)."""
    info = read_json(run_dir / RUN_FILE)
    started = info.get("init") if isinstance(info.get("init"), dict) else {}
    return info.get("status") == "finished" and info.get("config_hash") == config_hash(config) \
        and (init_sha is None or started.get("sha256") == init_sha) and (run_dir / METRICS_FILE).is_file()


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
