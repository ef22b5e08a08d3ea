"""Train one configuration on one train/test split, then test it: ``train_split``.

The loop reads as torchvision's references/classification/train.py does, in plain steps, in this order:

1. ``train_split``: start the process group, open the run folder (``open_run``: resume or refuse), ``set_up``;
2. ``set_up`` (kavan.training.setup): the model and its starting weights (a resumed run's checkpoint, or the
   --init file's), the split's data (usable clips, the feature cache filled with those weights' frozen part),
   the training loader, the optimiser, schedule and gradient scaler, the progress of a resumed run
   (kavan.training.progress.TrainProgress), DDP and the logs: one ``Run``;
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

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from kavan.config import KavanConfig, config_hash
from kavan.core.atomic import write_json
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import weights_sha256
from kavan.models.storage import MODEL_FORMAT, load_weights, read_safetensors, save_model
from kavan.training import run_log
from kavan.training.checkpoint import save_checkpoint
from kavan.training.distributed import Distributed
from kavan.training.evaluation import Predictions, autocast, model_inputs, predict, save_predictions, score
from kavan.training.init_weights import file_digest, read_init
from kavan.training.losses import LossTargets, total_loss
from kavan.training.readout import fit_ridge_readout
from kavan.training.setup import (
    BEST_FILE,
    CACHE_SUBDIR,
    CHECKPOINT_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PREDICTIONS_FILE,
    RUN_FILE,
    Run,
    already_finished,
    clip_set,
    eval_loader,
    failure_recorded,
    now,
    open_run,
    read_json,
    set_up,
    split_ids,
)

log = logging.getLogger(__name__)

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
    if resume and already_finished(run_dir, config, init_sha):
        log.info("%s: already finished, reusing its metrics", run_dir)
        return RunResult(run_dir, json.loads((run_dir / METRICS_FILE).read_text()), config,
                         read_json(run_dir / RUN_FILE).get("init"))
    checkpoint = open_run(run_dir, config, resume, init_sha)
    source = read_init(init) if init is not None and checkpoint is None else None
    dist.barrier()  # every rank has looked at the run folder before rank 0 writes into it
    dataset = Dataset(data)
    run = set_up(config, dist, run_dir, dataset, split_ids(dataset, config, split, split_file), checkpoint,
                 Path(cache_dir) if cache_dir else dataset.root / CACHE_SUBDIR, progress and dist.is_main, command,
                 source, init_partial)
    with failure_recorded(run_dir, run.info, dist):
        for epoch in range(run.progress.epoch, run.epochs):
            row = train_one_epoch(run, epoch)
            if run.val_loader is not None:
                row |= validate(run, epoch)
            end_epoch(run, row)
        run.board.close()
        metrics = finish(run)
    return RunResult(run_dir, metrics, config, run.info.get("init"))


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


def _diverged(run: Run, epoch: int, err: Diverged) -> KavanError:
    """The error that stops a diverged run, after rank 0 marked run.json ``diverged``; nothing else is written,
    so no model or checkpoint ever holds the weights of the step that diverged."""
    message = (f"training diverged at step {run.progress.step + 1} (epoch {epoch + 1}): {err.reason}; no model "
               f"was written from this run. Lower train.lr (now {run.config.train.lr:g}) or raise "
               "train.warmup_epochs, and start a new --out")
    if run.dist.is_main:
        run.info.update(status="diverged", error=message, finished=now())
        write_json(run.run_dir / RUN_FILE, run.info)
    return KavanError(message, run.run_dir)


def validate(run: Run, epoch: int) -> dict[str, float]:
    """Score the validation hold-out after epoch ``epoch`` (rank 0): the row's val_<metric> entries, logged to
    TensorBoard; with train.select best_val, keep these weights in best.safetensors if they are the best yet."""
    _, val = evaluate(run, run.val_loader, "validating")
    row = {f"val_{k}": v for k, v in val.items() if k in VAL_METRICS}
    run.board.scalars({f"val/{k[4:]}": v for k, v in row.items()}, epoch + 1)
    if run.config.train.select == "best_val" and run.progress.keep_if_best(epoch + 1, val["nmse_per_emotion"]):
        save_model(run.run_dir / BEST_FILE, run.model, run.config, run.trained_on)
    return row


def evaluate(run: Run, loader: DataLoader, desc: str) -> tuple[Predictions, dict[str, Any]]:
    """Predictions of ``loader``'s GIFs by the model as it is, and their metrics (kavan.training.evaluation)."""
    predictions = predict(run.model, loader, run.data.dataset.ids, run.dist.device, run.config.train.amp,
                          run.show_progress, desc)
    return predictions, score(predictions)


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
        test_loader = eval_loader(clip_set(run.data, run.config, run.model, run.data.test, False, run.show_progress),
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
        run.info.update(status="finished", finished=now(), weights_sha256=digests[0],
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
    loader = eval_loader(clip_set(run.data, run.config, run.model, clips, False, run.show_progress), run.config)
    readout = fit_ridge_readout(run.model, loader, run.dist.device)
    log.info("ridge read-out on %d training GIFs: lambda %.4g (%.4g per GIF)", readout["n"], readout["lambda"],
             readout["lambda_per_gif"])
    return readout


def _lr(run: Run) -> float:
    """The learning rate of the first parameter group (the one logged: parameter_groups)."""
    return run.optimizer.param_groups[0]["lr"]
