"""``--prior`` of `kavan label` and `kavan scores`: a model's predicted intensities, from a JSON Lines file that
`kavan predict` wrote or (for `kavan label`) by running a model file over the folder's GIFs."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def is_predictions_file(path: Path) -> bool:
    """Whether ``path`` looks like JSON Lines (its first non-blank byte is ``{``) rather than a model file."""
    from kavan.core.errors import KavanError

    try:
        with open(path, "rb") as handle:
            head = handle.read(64).lstrip()
    except OSError as err:
        raise KavanError(f"cannot read --prior: {err.strerror or err}", path) from None
    return head.startswith(b"{")


def load_prior(path: Path, media: dict[str, Path] | None = None, device: str = "auto", workers: int = 1):
    """``kavan.labels.prior.Predictions`` from ``path``: a `kavan predict` JSONL, or a model file run over ``media``
    (id -> media file; ``workers`` decoding processes, as `kavan predict --workers`). Without ``media`` a model file
    is refused with the command that makes the JSONL."""
    from kavan.core.errors import KavanError
    from kavan.labels.prior import predictions_from_records, read_predictions

    if is_predictions_file(path):
        return read_predictions(path)
    if media is None:
        raise KavanError("--prior takes the predictions of `kavan predict` here (a JSON Lines file); make them with "
                         "`kavan predict DIR/gifs --checkpoint MODEL --out predictions.jsonl`", path)
    from kavan.predict import BatchSettings, load, predict_files

    predictor = load(path, device)
    files = [str(media[gif]) for gif in sorted(media)]
    log.info("--prior: predicting %d GIFs with %s", len(files), path)
    records = (enumerate((r.to_json() for r in predict_files(predictor, files, BatchSettings(workers=workers))), start=1))
    return predictions_from_records(records, str(path))
