"""Train one configuration on one train/test split, then test it: ``train_split``.

The loop is deliberately plain (torchvision's references and nanoGPT's train.py are the models): build the data,
the model, the optimiser and the schedule; resume from the run's checkpoint if asked; for each epoch, step over
the global batches, then score the validation hold-out (if any) and keep the best epoch's weights (train.select);
save a checkpoint every ``train.checkpoint_every`` steps and at every epoch end; after the last epoch, predict the
test set once with the kept weights and write the metrics. The test set is never used before that.

Run folder (``out``)::

    run.json                  command, config + hash, dataset record, split, code version, device, status
    config.yaml               the resolved config
    checkpoint.safetensors    the latest resumable checkpoint (kavan.training.checkpoint)
    model.safetensors         the trained model, with the dataset record in its metadata (with train.select
                              best_val: the weights of the epoch with the lowest validation nMSE per emotion)
    best.safetensors          train.select best_val: the best validation epoch's weights so far
    metrics.json              test metrics (kavan.training.evaluation.score), plus the split's facts
    predictions.safetensors   test predictions, attention maps and the frames they came from
    log.csv, curves.png, tensorboard/   progress (kavan.training.run_log)

Resuming (``resume=True``) loads the checkpoint's weights, optimiser, schedule, gradient scaler and random
generator states and its position (epoch, batch within the epoch), and goes on from there; every sample's random
draws depend only on (seed, epoch, GIF), so the resumed run computes exactly what the uninterrupted one would
have, and reaches the same weights and metrics.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import sys
import time
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
from kavan.training.checkpoint import load_checkpoint, restore_rng, save_checkpoint
from kavan.training.distributed import Distributed, GlobalBatchSampler
from kavan.training.evaluation import autocast, model_inputs, predict, save_predictions, score
from kavan.training.losses import LossTargets, TargetStats, total_loss
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
LOSS_TERMS = ("total", "nmse", "rank", "ce", "kp")


class Diverged(KavanError):
    """A training step's loss is NaN or infinite (the reason lists the loss terms)."""


@dataclass
class RunResult:
    """A finished run: its folder, its test metrics (metrics.json) and the config it trained."""

    run_dir: Path
    metrics: dict[str, Any]
    config: KavanConfig


@dataclass(frozen=True)
class SplitIds:
    """The ids of one split: train (what the model is fitted on), val (held out of train, may be empty), test."""

    index: int
    source: str
    train: list[str]
    val: list[str]
    test: list[str]


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
                command: list[str] | None = None) -> RunResult:
    """Train ``config`` on split ``split`` of the dataset folder ``data``, test it, and return the metrics.

    Writes the run folder ``out`` (module docstring). ``resume``: go on from ``out``'s checkpoint (or return the
    finished run's result); without it ``out`` must be new or empty. ``cache_dir``: feature cache root
    (default ``<data>/cache/features``). Works alike in one process and under torchrun.
    """
    dist = Distributed.start(config.train.device)
    if config.train.amp == "fp16" and dist.device.type != "cuda":
        raise KavanError("train.amp fp16 needs a GPU; on the CPU use bf16 or off")
    progress = progress and dist.is_main
    run_dir = Path(out)
    if resume and _finished(run_dir, config):
        log.info("%s: already finished, reusing its metrics", run_dir)
        return RunResult(run_dir, json.loads((run_dir / METRICS_FILE).read_text()), config)
    checkpoint = None
    if resume and (run_dir / CHECKPOINT_FILE).is_file():
        checkpoint = load_checkpoint(run_dir / CHECKPOINT_FILE)
        if config_hash(checkpoint.config) != config_hash(config):
            raise KavanError("the checkpoint was made with another config; resume with the run's own config.yaml "
                             "or start a new run folder", run_dir / CHECKPOINT_FILE)
    elif run_dir.is_dir() and any(run_dir.iterdir()) and not resume:
        raise KavanError("run folder exists and is not empty: pass --resume to continue it, or choose a new "
                         "--out", run_dir)

    dist.barrier()  # every rank has looked at the run folder before rank 0 writes into it
    dataset = Dataset(data)
    ids = split_ids(dataset, config, split, split_file)
    record = dataset_record(dataset)
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / CONFIG_FILE, yaml.safe_dump(config.to_dict(), sort_keys=False))
    run_info = {
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
    if checkpoint is not None:  # keep the first start; list every resume
        earlier = _read_json(run_dir / RUN_FILE)
        run_info["started"] = earlier.get("started", run_info["started"])
        run_info["resumed"] = [*earlier.get("resumed", []), {"at": _now(), "step": checkpoint.progress["step"]}]
    if dist.is_main:
        write_json(run_dir / RUN_FILE, run_info)

    torch.manual_seed(config.train.seed)
    model = channels_last(KAVAN(config.model).to(dist.device))
    train_clips, val_clips, test_clips, excluded, ignored, cache = _prepare_data(
        dataset, ids, model, config, dist, Path(cache_dir) if cache_dir else dataset.root / CACHE_SUBDIR, progress)
    run_info.update(excluded=excluded, keypoints_ignored=ignored,
                    feature_cache=str(cache.folder) if cache is not None else None)
    if dist.is_main:
        write_json(run_dir / RUN_FILE, run_info)
    if not any(clip.has_keypoints for clip in train_clips) and config.loss.keypoint_supervision:
        log.warning("keypoint supervision is on but no training GIF has keypoints: the keypoint loss stays 0")

    def make(clips: list[Clip], train: bool):
        t, size, cells = config.model.t, config.model.input_size, model.cells
        if cache is not None:
            return FeatureClipDataset(cache, dataset, clips, t, size, cells, config.data, train, config.train.seed,
                                      progress=progress)
        return ClipDataset(dataset, clips, t, size, cells, config.data, train, config.train.seed)

    train_set = make(train_clips, train=True)
    sampler = GlobalBatchSampler(len(train_set), config.train.batch_size, dist.world_size, dist.rank,
                                 config.train.seed)
    loader_generator = torch.Generator()
    train_loader = DataLoader(train_set, batch_sampler=sampler, num_workers=config.train.workers,
                              generator=loader_generator, pin_memory=dist.device.type == "cuda",
                              worker_init_fn=loader_worker_init())

    target_stats = TargetStats.of(np.stack([dataset.scores[clip.row] for clip in train_clips]), dist.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer_cls = torch.optim.AdamW if config.train.optimizer == "adamw" else torch.optim.Adam
    optimizer = optimizer_cls(parameter_groups(model, config), lr=config.train.lr,
                              weight_decay=config.train.weight_decay)
    per_epoch = sampler.batches_per_epoch
    epochs = n_epochs(config.train.epochs, config.train.min_steps, per_epoch)
    total_steps = per_epoch * epochs
    warmup = round(config.train.warmup_epochs * per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup, config.train.schedule))
    scaler = _scaler(config.train.amp, dist.device)

    progress_state: dict[str, Any] = {"epoch": 0, "batch": 0, "step": 0, "sums": {}, "count": 0, "seconds": 0.0,
                                      "history": [], "best": None}
    if checkpoint is not None:
        load_weights(model, checkpoint.model, run_dir / CHECKPOINT_FILE)
        optimizer.load_state_dict(checkpoint.optimizer)
        scheduler.load_state_dict(checkpoint.scheduler)
        if scaler is not None and checkpoint.scaler is not None:
            scaler.load_state_dict(checkpoint.scaler)
        restore_rng(checkpoint.rng)
        progress_state = checkpoint.progress
        log.info("resuming %s at epoch %d, batch %d (step %d)", run_dir, progress_state["epoch"] + 1,
                 progress_state["batch"], progress_state["step"])

    net: torch.nn.Module = model
    if dist.enabled:
        net = DistributedDataParallel(model, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
    board = run_log.TensorBoard(run_dir if dist.is_main else None, purge_step=progress_state["step"] or None)
    val_loader = _eval_loader(make(val_clips, train=False), config) if val_clips and dist.is_main else None

    trained_on = {"dataset": record, "split": run_info["split"], "run": str(run_dir.resolve()),
                  "config_hash": config_hash(config), "code": run_info["code"]}

    def checkpoint_now() -> None:
        if dist.is_main:
            save_checkpoint(run_dir / CHECKPOINT_FILE, config=config, model=model, optimizer=optimizer,
                            scheduler=scheduler, scaler=scaler, progress=progress_state, trained_on=trained_on)

    title = f"{run_dir.name}: split {ids.index}, {len(train_clips)} training GIFs"
    for epoch in range(progress_state["epoch"], epochs):
        train_set.set_epoch(epoch)
        loader_generator.manual_seed(config.train.seed * 1_000_003 + epoch)
        sampler.set_epoch(epoch, start_batch=progress_state["batch"])
        started = time.perf_counter() - progress_state["seconds"]
        model.train()
        bar = tqdm(train_loader, total=len(sampler), desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                   disable=not progress)
        for batch in bar:
            try:
                values = _train_step(net, batch, config, optimizer, scheduler, scaler, trainable, dist,
                                     target_stats)
            except Diverged as err:
                message = (f"training diverged at step {progress_state['step'] + 1} (epoch {epoch + 1}): the loss "
                           f"is not finite ({err.reason}); no model was written from this run. Lower train.lr "
                           f"(now {config.train.lr:g}) or raise train.warmup_epochs, and start a new --out")
                if dist.is_main:
                    run_info.update(status="diverged", error=message, finished=_now())
                    write_json(run_dir / RUN_FILE, run_info)
                raise KavanError(message, run_dir) from None
            progress_state["step"] += 1
            progress_state["batch"] += 1
            progress_state["count"] += 1
            for key, value in values.items():
                progress_state["sums"][key] = progress_state["sums"].get(key, 0.0) + value
            bar.set_postfix(loss=f"{values['total']:.4f}")
            board.scalars({f"train/{k}": v for k, v in values.items()}
                          | {"train/lr": optimizer.param_groups[0]["lr"]}, progress_state["step"])
            every = config.train.checkpoint_every
            if every and progress_state["step"] % every == 0 and progress_state["batch"] < per_epoch:
                progress_state["seconds"] = time.perf_counter() - started
                checkpoint_now()
                log.info("checkpoint: epoch %d, batch %d, step %d", epoch + 1, progress_state["batch"],
                         progress_state["step"])
        row: dict[str, Any] = {"epoch": epoch + 1, "step": progress_state["step"],
                               "lr": optimizer.param_groups[0]["lr"],
                               "seconds": round(time.perf_counter() - started, 3)}
        row |= {f"train_{k}": v / max(1, progress_state["count"]) for k, v in progress_state["sums"].items()}
        if val_loader is not None:
            val = score(predict(model, val_loader, dataset.ids, dist.device, config.train.amp, progress, "validating"))
            row |= {f"val_{k}": v for k, v in val.items() if k in ("accuracy", "nmse_per_gif", "nmse_per_emotion",
                                                                   "pearson_mean")}
            board.scalars({f"val/{k[4:]}": v for k, v in row.items() if k.startswith("val_")}, epoch + 1)
            best = progress_state.get("best")
            if config.train.select == "best_val" and (best is None or val["nmse_per_emotion"] < best["value"]):
                save_model(run_dir / BEST_FILE, model, config, trained_on)
                progress_state["best"] = {"epoch": epoch + 1, "value": val["nmse_per_emotion"]}
        progress_state.update(epoch=epoch + 1, batch=0, sums={}, count=0, seconds=0.0,
                              history=[*progress_state["history"], row])
        checkpoint_now()
        if dist.is_main:
            run_log.write_history_csv(run_dir, progress_state["history"])
            log.info("epoch %d/%d: %s", epoch + 1, epochs,
                     ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
        dist.barrier()
    board.close()

    digests = dist.all_gather(weights_sha256(model))
    if len(set(digests)) != 1:
        raise KavanError(f"the {dist.world_size} processes ended with different weights: {digests}", run_dir)
    metrics: dict[str, Any] = {}
    selected = progress_state.get("best")
    if dist.is_main:
        if selected is not None:  # train.select best_val: test the best validation epoch's weights
            tensors, _ = read_safetensors(run_dir / BEST_FILE, MODEL_FORMAT)
            load_weights(model, tensors, run_dir / BEST_FILE)
            log.info("testing the weights of epoch %d (lowest validation nMSE per emotion, %.4f)",
                     selected["epoch"], selected["value"])
        test_loader = _eval_loader(make(test_clips, train=False), config)
        predictions = predict(model, test_loader, dataset.ids, dist.device, config.train.amp, progress, "testing")
        metrics = {"split": ids.index, "test": score(predictions), "n_train": len(train_clips),
                   "n_val": len(val_clips), "n_test": len(test_clips), "epochs": epochs,
                   "selected_epoch": selected["epoch"] if selected is not None else epochs,
                   "steps": progress_state["step"], "history": progress_state["history"],
                   "config_hash": config_hash(config)}
        run_log.plot_curves(run_dir, progress_state["history"], title)
        save_model(run_dir / MODEL_FILE, model, config, trained_on)
        save_predictions(run_dir / PREDICTIONS_FILE, predictions)
        write_json(run_dir / METRICS_FILE, metrics)
        run_info.update(status="finished", finished=_now(), weights_sha256=digests[0],
                        ddp={"world_size": dist.world_size, "rank_weights_sha256": digests})
        write_json(run_dir / RUN_FILE, run_info)
        test = metrics["test"]
        log.info("split %d test: accuracy %.4f, nMSE per GIF %.4f, nMSE per emotion %.4f, mean r %.4f",
                 ids.index, test["accuracy"], test["nmse_per_gif"], test["nmse_per_emotion"], test["pearson_mean"])
    metrics = dist.broadcast(metrics)
    return RunResult(run_dir, metrics, config)


def _train_step(net: torch.nn.Module, batch: dict[str, torch.Tensor], config: KavanConfig,
                optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any, trainable: list[torch.Tensor],
                dist: Distributed, target_stats: TargetStats) -> dict[str, float]:
    """One optimiser step on this rank's share of a global batch; returns the global batch's loss terms.
    A loss that is not finite raises Diverged before the step, so the weights stay those of the last good step.
    ``target_stats``: the training split's target statistics (the regression losses' normalisers)."""
    device = dist.device
    targets = LossTargets(intensities=batch["intensities"].to(device), heatmaps=batch["heatmaps"].to(device),
                          has_heatmap=batch["has_heatmap"].to(device), stats=target_stats)
    with autocast(device, config.train.amp):
        output = net(**model_inputs(batch, device))
        terms = total_loss(output, targets, config.loss)
    if dist.enabled and "kp" in terms:
        # L_kp is a mean over the frames that have heatmaps, which differ in number between the ranks; weight
        # each rank's term by its share so that the averaged gradients are those of the global batch's L_kp.
        local = targets.has_heatmap.sum().float()
        total_frames = dist.all_reduce_sum(local)
        share = local * dist.world_size / total_frames.clamp_min(1)
        corrected = terms["kp"] * share
        terms["total"] = terms["total"] + config.loss.lambda_kp * (corrected - terms["kp"])
        terms["kp"] = corrected
    present = [key for key in LOSS_TERMS if key in terms]
    values = torch.stack([terms[key].detach().float() for key in present])
    values = dist.all_reduce_sum(values) / dist.world_size  # every rank sees the same values, and stops together
    if not bool(torch.isfinite(values).all()):
        raise Diverged(", ".join(f"{key} {value:.4g}" for key, value in zip(present, values.tolist())))
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(terms["total"]).backward()
        scaler.unscale_(optimizer)
    else:
        terms["total"].backward()
    if config.train.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(trainable, config.train.grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()
    return dict(zip(present, values.tolist()))


def _prepare_data(dataset: Dataset, ids: SplitIds, model: KAVAN, config: KavanConfig, dist: Distributed,
                  cache_root: Path, progress: bool):
    """Usable clips of the split's parts, and the filled feature cache when the config trains on one."""
    prepared = prepare_clips(dataset, ids.train + ids.val + ids.test, progress)
    excluded, ignored = dict(prepared.excluded), prepared.keypoints_ignored
    cache = None
    if config.train.feature_cache:
        cache = FeatureCache(cache_root, cache_key(model, config.data.cache_frames, config.data.cache_dtype))
        try:
            report = cache.fill(dataset, prepared.clips, _encoder(model),
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
    if not parts[0] or not parts[2]:
        raise KavanError(f"split {ids.index} has no usable training or test GIF ({len(excluded)} excluded)",
                         dataset.root)
    return parts[0], parts[1], parts[2], excluded, ignored, cache


def channels_last(model: KAVAN) -> KAVAN:
    """Store the backbone's convolution weights channels-last (NHWC), which runs its convolutions in oneDNN's
    fast layout: MobileNetV2 at 224x224 encodes about 1.7x more frames per second on the CPU (docs/training.md).
    Same numbers up to float rounding; the rest of the network is unchanged."""
    model.backbone.to(memory_format=torch.channels_last)
    return model


def _encoder(model: KAVAN):
    """Normalised frames (N, 3, S, S) → the backbone's frozen part's features (N, C, K, K), through
    KAVAN.encode_frozen."""
    device = next(model.parameters()).device
    channels_last(model)

    @torch.inference_mode()
    def encode(frames: torch.Tensor) -> torch.Tensor:
        frames = frames.to(device).contiguous(memory_format=torch.channels_last)
        return model.encode_frozen(frames.unsqueeze(0)).squeeze(0).contiguous()

    return encode


def _eval_loader(dataset, config: KavanConfig) -> DataLoader:
    return DataLoader(dataset, batch_size=config.train.batch_size, shuffle=False, num_workers=config.train.workers,
                      worker_init_fn=loader_worker_init())


def _scaler(amp: str, device: torch.device):
    """The gradient scaler fp16 autocast needs (its small gradients would underflow), else None."""
    return torch.amp.GradScaler(device.type) if amp == "fp16" else None


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or {} when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _finished(run_dir: Path, config: KavanConfig) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly this config."""
    info = _read_json(run_dir / RUN_FILE)
    return info.get("status") == "finished" and info.get("config_hash") == config_hash(config) \
        and (run_dir / METRICS_FILE).is_file()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
