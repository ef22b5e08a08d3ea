"""Train one configuration on one train/test split, then test it: ``train_split``.

The loop reads as torchvision's references/classification/train.py does, in plain steps, in this order:

1. ``train_split``: start the process group, open the run folder (``_open_run``: resume or refuse), ``set_up``;
2. ``set_up``: the model and its starting weights (``_starting_weights``: a resumed run's checkpoint, or the
   --init file's), the split's data (``_prepare_data``: usable clips, the feature cache filled with those
   weights' frozen part), the training loader (``_train_loader``), the optimiser, schedule and gradient scaler
   (``_optimisation``), the state of a resumed run (``_resume``), DDP and the logs: one ``Run``;
3. every epoch: ``train_one_epoch`` (``train_step`` per global batch, a ``checkpoint`` every
   ``train.checkpoint_every`` steps, the loss terms' epoch means from a ``MetricLogger``), then ``validate`` the
   hold-out if there is one (``evaluate``; train.select best_val keeps the best epoch's weights), then
   ``end_epoch``: the history row, a ``checkpoint``, log.csv;
4. ``finish``: compare the ranks' weights, ``evaluate`` the test set once with the kept weights, write the model,
   predictions, metrics and curves. The test set is never used before that.

Run folder (``out``)::

    run.json                  command, config + hash, dataset record, split, code version, device, init,
                              status: running, then finished, diverged or failed (with the error)
    config.yaml               the resolved config
    checkpoint.safetensors    the latest resumable checkpoint (kavan.training.checkpoint)
    model.safetensors         the trained model, with the dataset record in its metadata (with train.select
                              best_val: the weights of the epoch with the lowest validation nMSE per emotion)
    best.safetensors          train.select best_val: the best validation epoch's weights so far
    metrics.json              test metrics (kavan.training.evaluation.score), plus the split's facts
    predictions.safetensors   test predictions, attention maps and the frames they came from
    log.csv, curves.png, tensorboard/   progress (kavan.training.run_log)

Resuming (``resume=True``) loads the checkpoint's weights, optimiser, schedule, gradient scaler and random
generator states and its position (epoch, batch within the epoch, the epoch's running loss sums), and goes on
from there; every sample's random draws depend only on (seed, epoch, GIF), so the resumed run computes exactly
what the uninterrupted one would have, and reaches the same weights and metrics.

Fine-tuning (``init=PATH``, kavan.training.init_weights) starts the weights from a model file or a checkpoint
instead of the config's initialisation. A resumed run never applies it again (the checkpoint's weights win) but
keeps its record; a resume may name the same file again or none, and a different file is refused.
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
from tqdm import tqdm

from kavan import __version__
from kavan.config import KavanConfig, config_hash
from kavan.core.atomic import write_json, write_text
from kavan.core.errors import KavanError
from kavan.core.workers import loader_worker_init
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import FeatureCache, cache_key, weights_sha256
from kavan.data.loader import Clip, ClipDataset, FeatureClipDataset, prepare_clips, undecodable
from kavan.models import KAVAN
from kavan.models.storage import MODEL_FORMAT, load_weights, read_safetensors, save_model
from kavan.training import run_log
from kavan.training.checkpoint import Checkpoint, load_checkpoint, restore_rng, save_checkpoint
from kavan.training.distributed import Distributed, GlobalBatchSampler
from kavan.training.evaluation import Predictions, autocast, model_inputs, predict, save_predictions, score
from kavan.training.glimpses import GlimpseCache, fill_glimpses, fit_split_localiser
from kavan.training.init_weights import InitSource, apply_init, file_digest, init_record, read_init, report_lines
from kavan.training.losses import LossTargets, TargetStats, total_loss
from kavan.training.progress import TrainProgress
from kavan.training.provenance import dataset_record, git_commit
from kavan.training.readout import fit_ridge_readout

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "checkpoint.safetensors"
MODEL_FILE = "model.safetensors"
BEST_FILE = "best.safetensors"  # train.select best_val: the weights of the best validation epoch so far
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.safetensors"
CACHE_SUBDIR = Path("cache") / "features"
LOSS_TERMS = ("total", "nmse", "rank", "ce", "kp")
VAL_METRICS = ("accuracy", "nmse_per_gif", "nmse_per_emotion", "pearson_mean")  # logged per epoch as val_<name>


LOSS_LIMIT = 1e6
"""A loss term above this is divergence, as a NaN is. No healthy run comes near it: the intensities are sigmoids
in [0, 1] and the nMSE denominators are floored at 1e-3, so L_nMSE <= 17 / 1e-3 = 1.7e4 per GIF (1e3 per emotion),
L_rank <= rank_margin + 1 and L_kp <= 2 (two distributions over the cells) whatever the weights; L_CE over the 4
quadrants starts near ln 4 = 1.39, and reaching 1e6 takes quadrant logits about 1e6 apart: weights blown up by too
high a learning rate. The terms are compared before their loss.lambda_* weights, so the weights move no bound."""


class Diverged(KavanError):
    """A training step's loss is NaN or infinite, or a loss term is above LOSS_LIMIT (the reason says which and
    lists the loss terms)."""


@dataclass
class RunResult:
    """A finished run: its folder, its test metrics (metrics.json), the config it trained and, for a fine-tuned
    run, where its starting weights came from (run.json's ``init``, kavan.training.init_weights.init_record)."""

    run_dir: Path
    metrics: dict[str, Any]
    config: KavanConfig
    init: dict[str, Any] | None = None


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


def train_split(config: KavanConfig, data: str | os.PathLike[str], out: str | os.PathLike[str], *, split: int = 0,
                split_file: str | os.PathLike[str] | None = None, resume: bool = False,
                cache_dir: str | os.PathLike[str] | None = None, progress: bool = True,
                command: list[str] | None = None, init: str | os.PathLike[str] | None = None,
                init_partial: bool = False) -> RunResult:
    """Train ``config`` on split ``split`` of the dataset folder ``data``, test it, and return the metrics.

    Writes the run folder ``out`` (module docstring). ``resume``: go on from ``out``'s checkpoint (or return the
    finished run's result); without it ``out`` must be new or empty. ``cache_dir``: feature cache root
    (default ``<data>/cache/features``). ``init``: a kavan model file or training checkpoint to start the
    weights from (fine-tuning; kavan.training.init_weights); ``init_partial``: accept its tensors of the
    model's names but other shapes, which then keep the config's initialisation. Works alike in one process and
    under torchrun.
    """
    dist = Distributed.start(config.train.device)
    if config.train.amp == "fp16" and dist.device.type != "cuda":
        raise KavanError("train.amp fp16 needs a GPU; on the CPU use bf16 or off")
    run_dir = Path(out)
    init_sha = file_digest(init) if init is not None else None
    if resume and _finished(run_dir, config, init_sha):
        log.info("%s: already finished, reusing its metrics", run_dir)
        return RunResult(run_dir, json.loads((run_dir / METRICS_FILE).read_text()), config,
                         _read_json(run_dir / RUN_FILE).get("init"))
    checkpoint = _open_run(run_dir, config, resume, init_sha)
    source = read_init(init) if init is not None and checkpoint is None else None
    dist.barrier()  # every rank has looked at the run folder before rank 0 writes into it
    dataset = Dataset(data)
    run = set_up(config, dist, run_dir, dataset, split_ids(dataset, config, split, split_file), checkpoint,
                 Path(cache_dir) if cache_dir else dataset.root / CACHE_SUBDIR, progress and dist.is_main, command,
                 source, init_partial)
    with _failure_recorded(run_dir, run.info, dist):
        for epoch in range(run.progress.epoch, run.epochs):
            row = train_one_epoch(run, epoch)
            if run.val_loader is not None:
                row |= validate(run, epoch)
            end_epoch(run, row)
        run.board.close()
        metrics = finish(run)
    return RunResult(run_dir, metrics, config, run.info.get("init"))


def _open_run(run_dir: Path, config: KavanConfig, resume: bool, init_sha: str | None) -> Checkpoint | None:
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
    with _failure_recorded(run_dir, info, dist):  # from here on a failure is recorded in run.json
        data = _prepare_data(dataset, ids, model, config, dist, cache_root, show_progress)
        info.update(init=init_info, excluded=data.excluded, keypoints_ignored=data.keypoints_ignored,
                    feature_cache=str(data.cache.folder) if data.cache is not None else None)
        if dist.is_main:
            write_json(run_dir / RUN_FILE, info)
        if not any(clip.has_keypoints for clip in data.train) and config.loss.keypoint_supervision:
            log.warning("keypoint supervision is on but no training GIF has keypoints: the keypoint loss stays 0")
        train_set = _clip_set(data, config, model, data.train, True, show_progress)
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
            val_loader = _eval_loader(_clip_set(data, config, model, data.val, False, show_progress), config)
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
def _failure_recorded(run_dir: Path, info: dict[str, Any], dist: Distributed) -> Iterator[None]:
    """Mark run.json ``"status": "failed"``, with the error, when anything inside raises (rank 0), then let the
    error go on as it was: a run.json left at ``running`` reads as a run still going. A status set already
    (``diverged``, ``finished``) is kept; a failure to write run.json is logged, never raised over the run's own."""
    try:
        yield
    except BaseException as err:
        if dist.is_main and info.get("status") == "running":
            info.update(status="failed", error=_failure_message(err), finished=_now())
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
        "started": _now(),
        "status": "running",
    }
    if checkpoint is not None:
        earlier = _read_json(run_dir / RUN_FILE)
        info["started"] = earlier.get("started", info["started"])
        info["resumed"] = [*earlier.get("resumed", []), {"at": _now(), "step": checkpoint.progress["step"]}]
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


def train_one_epoch(run: Run, epoch: int) -> dict[str, Any]:
    """Epoch ``epoch`` (0-based) from the batch the progress points at: one ``train_step`` per global batch.
    Returns the epoch's history row: epoch, step, lr, seconds and the loss terms' means (train_<term>)."""
    config, progress = run.config, run.progress
    run.train_set.set_epoch(epoch)
    run.loader_generator.manual_seed(config.train.seed * 1_000_003 + epoch)
    run.sampler.set_epoch(epoch, start_batch=progress.batch)
    metrics = progress.epoch_metrics()
    run.model.train()
    bar = tqdm(run.train_loader, total=len(run.sampler), desc=f"epoch {epoch + 1}/{run.epochs}", unit="batch",
               disable=not run.show_progress)
    for batch in bar:
        try:
            values = train_step(run, batch)
        except Diverged as err:
            raise _diverged(run, epoch, err) from None
        progress.stepped()
        metrics.update(**values)
        bar.set_postfix(loss=f"{values['total']:.4f}")
        run.board.scalars({f"train/{k}": v for k, v in values.items()} | {"train/lr": _lr(run)}, progress.step)
        every = config.train.checkpoint_every
        if every and progress.step % every == 0 and progress.batch < run.sampler.batches_per_epoch:
            progress.hold(metrics)
            checkpoint(run)
            log.info("checkpoint: epoch %d, batch %d, step %d", epoch + 1, progress.batch, progress.step)
    row = {"epoch": epoch + 1, "step": progress.step, "lr": _lr(run), "seconds": round(metrics.seconds, 3)}
    return row | {f"train_{k}": v for k, v in metrics.averages().items()}


def _diverged(run: Run, epoch: int, err: Diverged) -> KavanError:
    """The error that stops a diverged run, after rank 0 marked run.json ``diverged``; nothing else is written,
    so no model or checkpoint ever holds the weights of the step that diverged."""
    message = (f"training diverged at step {run.progress.step + 1} (epoch {epoch + 1}): {err.reason}; no model "
               f"was written from this run. Lower train.lr (now {run.config.train.lr:g}) or raise "
               "train.warmup_epochs, and start a new --out")
    if run.dist.is_main:
        run.info.update(status="diverged", error=message, finished=_now())
        write_json(run.run_dir / RUN_FILE, run.info)
    return KavanError(message, run.run_dir)


def evaluate(run: Run, loader: DataLoader, desc: str) -> tuple[Predictions, dict[str, Any]]:
    """Predictions of ``loader``'s GIFs by the model as it is, and their metrics (kavan.training.evaluation)."""
    predictions = predict(run.model, loader, run.data.dataset.ids, run.dist.device, run.config.train.amp,
                          run.show_progress, desc)
    return predictions, score(predictions)


def validate(run: Run, epoch: int) -> dict[str, float]:
    """Score the validation hold-out after epoch ``epoch`` (rank 0): the row's val_<metric> entries, logged to
    TensorBoard; with train.select best_val, keep these weights in best.safetensors if they are the best yet."""
    _, val = evaluate(run, run.val_loader, "validating")
    row = {f"val_{k}": v for k, v in val.items() if k in VAL_METRICS}
    run.board.scalars({f"val/{k[4:]}": v for k, v in row.items()}, epoch + 1)
    if run.config.train.select == "best_val" and run.progress.keep_if_best(epoch + 1, val["nmse_per_emotion"]):
        save_model(run.run_dir / BEST_FILE, run.model, run.config, run.trained_on)
    return row


def end_epoch(run: Run, row: dict[str, Any]) -> None:
    """Close the epoch: add its row to the history, start the next epoch's sums, checkpoint, rewrite log.csv."""
    run.progress.close_epoch(row)
    checkpoint(run)
    if run.dist.is_main:
        run_log.write_history_csv(run.run_dir, run.progress.history)
        log.info("epoch %d/%d: %s", row["epoch"], run.epochs,
                 ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
    run.dist.barrier()


def checkpoint(run: Run) -> None:
    """Save the resumable checkpoint (rank 0; the ranks' states are identical): weights, optimiser, schedule,
    scaler, random generators and ``run.progress``."""
    if run.dist.is_main:
        save_checkpoint(run.run_dir / CHECKPOINT_FILE, config=run.config, model=run.model, optimizer=run.optimizer,
                        scheduler=run.scheduler, scaler=run.scaler, progress=run.progress.to_dict(),
                        trained_on=run.trained_on)


def finish(run: Run) -> dict[str, Any]:
    """After the last epoch: check that every rank holds the same weights, then on rank 0 test the kept weights
    (the last epoch's, or with train.select best_val the best validation epoch's) once and write the model,
    predictions, metrics, curves and the finished run.json. Returns the metrics on every rank."""
    dist, run_dir = run.dist, run.run_dir
    digests = dist.all_gather(weights_sha256(run.model))
    if len(set(digests)) != 1:
        raise KavanError(f"the {dist.world_size} processes ended with different weights: {digests}", run_dir)
    metrics: dict[str, Any] = {}
    if dist.is_main:
        selected = _load_selected(run)
        test_loader = _eval_loader(_clip_set(run.data, run.config, run.model, run.data.test, False, run.show_progress),
                                   run.config)
        readout = None
        if run.config.train.readout == "ridge":  # the trained head's test scores are reported beside, never used
            _, trained_head = evaluate(run, test_loader, "testing the trained head")
            readout = _fit_readout(run) | {"test_before": trained_head}
        predictions, test = evaluate(run, test_loader, "testing")
        metrics = {"split": run.data.ids.index, "test": test, "n_train": len(run.data.train),
                   "n_val": len(run.data.val), "n_test": len(run.data.test), "epochs": run.epochs,
                   "selected_epoch": selected, "steps": run.progress.step, "history": run.progress.history,
                   "config_hash": config_hash(run.config)}
        if readout is not None:
            metrics["readout"] = readout
        title = f"{run_dir.name}: split {run.data.ids.index}, {len(run.data.train)} training GIFs"
        run_log.plot_curves(run_dir, run.progress.history, title)
        save_model(run_dir / MODEL_FILE, run.model, run.config, run.trained_on)
        save_predictions(run_dir / PREDICTIONS_FILE, predictions)
        write_json(run_dir / METRICS_FILE, metrics)
        run.info.update(status="finished", finished=_now(), weights_sha256=digests[0],
                        ddp={"world_size": dist.world_size, "rank_weights_sha256": digests})
        write_json(run_dir / RUN_FILE, run.info)
        log.info("split %d test: accuracy %.4f, nMSE per GIF %.4f, nMSE per emotion %.4f, mean r %.4f",
                 run.data.ids.index, test["accuracy"], test["nmse_per_gif"], test["nmse_per_emotion"],
                 test["pearson_mean"])
    return dist.broadcast(metrics)


def _load_selected(run: Run) -> int:
    """The epoch whose weights the test uses: with train.select best_val the best validation epoch's weights are
    loaded from best.safetensors; otherwise the model keeps the last epoch's."""
    selected = run.progress.best
    if selected is None:
        return run.epochs
    tensors, _ = read_safetensors(run.run_dir / BEST_FILE, MODEL_FORMAT)
    load_weights(run.model, tensors, run.run_dir / BEST_FILE)
    log.info("testing the weights of epoch %d (lowest validation nMSE per emotion, %.4f)", selected.epoch,
             selected.value)
    return selected.epoch


def _fit_readout(run: Run) -> dict[str, Any]:
    """train.readout ridge: refit the regression head in closed form on the training GIFs (hold-out included)
    with the kept weights (kavan.training.readout); the test set is still unseen."""
    clips = run.data.train + run.data.val
    loader = _eval_loader(_clip_set(run.data, run.config, run.model, clips, False, run.show_progress), run.config)
    readout = fit_ridge_readout(run.model, loader, run.dist.device)
    log.info("ridge read-out on %d training GIFs: lambda %.4g (%.4g per GIF)", readout["n"], readout["lambda"],
             readout["lambda_per_gif"])
    return readout


def train_step(run: Run, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    """One optimiser step on this rank's share of a global batch; returns the global batch's loss terms.

    Forward under train.amp's autocast, ``total_loss``, backward through the gradient scaler (``grad_scaler``:
    it scales only with fp16), gradient clipping of the trainable parameters at train.grad_clip, the optimiser's
    and the schedule's step. A loss that is not finite, or a loss term above LOSS_LIMIT, raises Diverged before
    the update, so the weights stay those of the last good step. ``batch``: a ClipDataset or FeatureClipDataset
    batch. The loss terms are averaged over the ranks (the regression losses normalised by the training split's
    target statistics), so every rank returns the same numbers and stops together.
    """
    config, dist, optimizer, scaler = run.config, run.dist, run.optimizer, run.scaler
    device = dist.device
    targets = LossTargets(intensities=batch["intensities"].to(device), heatmaps=batch["heatmaps"].to(device),
                          has_heatmap=batch["has_heatmap"].to(device), stats=run.target_stats)
    with autocast(device, config.train.amp):
        output = run.net(**model_inputs(batch, device))
        terms = total_loss(output, targets, config.loss)
    if dist.enabled and "kp" in terms:
        _global_kp(terms, targets, config, dist)
    present = [key for key in LOSS_TERMS if key in terms]
    values = torch.stack([terms[key].detach().float() for key in present])
    values = dist.all_reduce_sum(values) / dist.world_size  # every rank sees the same values, and stops together
    _check_divergence(dict(zip(present, values.tolist())))
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(terms["total"]).backward()
    scaler.unscale_(optimizer)
    if config.train.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(run.trainable, config.train.grad_clip)
    scaler.step(optimizer)
    scaler.update()
    run.scheduler.step()
    return dict(zip(present, values.tolist()))


def _check_divergence(values: dict[str, float]) -> None:
    """Raise Diverged when a step's loss is not finite or one of its terms (before weighting) is above LOSS_LIMIT.
    The terms of every rank are averaged first (train_step), so every rank decides alike."""
    listing = ", ".join(f"{key} {value:.4g}" for key, value in values.items())
    if not all(math.isfinite(value) for value in values.values()):
        raise Diverged(f"the loss is not finite ({listing})")
    exploded = [key for key, value in values.items() if key != "total" and value > LOSS_LIMIT]
    if exploded:
        raise Diverged(f"the loss exploded: {' and '.join(f'{key} {values[key]:.4g}' for key in exploded)} "
                       f"above {LOSS_LIMIT:g}, a value no healthy run reaches ({listing})")


def _global_kp(terms: dict[str, torch.Tensor], targets: LossTargets, config: KavanConfig, dist: Distributed) -> None:
    """Make this rank's L_kp (in ``terms``, and its share of the total) count as the global batch's.

    L_kp is a mean over the frames that have heatmaps, which differ in number between the ranks; weighting each
    rank's term by its share makes the averaged gradients those of the global batch's L_kp."""
    local = targets.has_heatmap.sum().float()
    total_frames = dist.all_reduce_sum(local)
    share = local * dist.world_size / total_frames.clamp_min(1)
    corrected = terms["kp"] * share
    terms["total"] = terms["total"] + config.loss.lambda_kp * (corrected - terms["kp"])
    terms["kp"] = corrected


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


def _clip_set(data: SplitData, config: KavanConfig, model: KAVAN, clips: list[Clip], train: bool, progress: bool):
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


def _eval_loader(dataset, config: KavanConfig) -> DataLoader:
    return DataLoader(dataset, batch_size=config.train.batch_size, shuffle=False, num_workers=config.train.workers,
                      worker_init_fn=loader_worker_init())


def _lr(run: Run) -> float:
    """The learning rate of the first parameter group (the one logged: parameter_groups)."""
    return run.optimizer.param_groups[0]["lr"]


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or {} when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _finished(run_dir: Path, config: KavanConfig, init_sha: str | None = None) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly this config and, when ``init_sha`` is given, started
    from the --init file of that SHA-256 (a run without --init, or from another file, is another run; without
    ``init_sha`` the run is reused whatever it started from, as a resume without --init goes on with it)."""
    info = _read_json(run_dir / RUN_FILE)
    started = info.get("init") if isinstance(info.get("init"), dict) else {}
    return info.get("status") == "finished" and info.get("config_hash") == config_hash(config) \
        and (init_sha is None or started.get("sha256") == init_sha) and (run_dir / METRICS_FILE).is_file()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
