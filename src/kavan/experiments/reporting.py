"""results.md of `kavan ablation`: the paper's Table 1 (accuracy) and Table 2 (nMSE), mean ± std over splits.

Input is the ``results.json`` object that kavan.experiments.ablation writes (``render_results`` reads nothing else,
so the Markdown can be regenerated from the JSON). Each row of ``rows`` has ``name``, ``label``, ``kind``
(``model``, ``baseline`` or ``chance``), ``metrics`` ({metric: {"mean", "std", "values"}}) and, for attention
rows on a dataset with ground truth, ``localisation`` ({"hit_rate", "withheld_hit_rate"}: mean_std entries).
``split_source`` (n_splits, split_seed, train_fraction, split_mode, val_fraction) becomes the line above the
tables that says how the splits were made.

Table 1 has the 4-class quadrant accuracy (and the attention localisation columns when any row has them);
Table 2 has nMSE per emotion (Jou et al. 2014, the paper's comparison metric) beside nMSE per GIF (the training
loss's definition) and the mean Pearson r.
"""

from __future__ import annotations

import io
from typing import Any

from kavan.data.splits import describe_splits
from kavan.experiments.claims import beyond_paper_section, claims_section
from kavan.experiments.tables import markdown_table, mean_std_cell

KIND_ORDER = {"chance": 0, "baseline": 1, "model": 2}
# results.md's title for `kavan ablation --settings X`; other values print as "X settings"
SETTINGS_TITLES = {"paper": "the paper's architecture (ResNet-50 end to end) with project-default hyper-parameters"}


def ordered_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Chance rows first, then baselines, then the models, each group in the order of ``results["rows"]``."""
    return sorted(results["rows"], key=lambda row: KIND_ORDER[row["kind"]])


def accuracy_table(results: dict[str, Any]) -> str:
    """Table 1: accuracy per row, plus the localisation columns when some row has localisation scores."""
    rows = ordered_rows(results)
    with_loc = any(row.get("localisation") for row in rows)
    header = ["Method", "Accuracy"]
    if with_loc:
        header += ["Attention on face (all face frames)", "Attention on face (keypoints withheld)",
                   "On exact face box (all)", "On exact face box (withheld)", "Attention mass on face"]
    body = []
    for row in rows:
        cells = [row["label"], mean_std_cell(row["metrics"].get("accuracy"), percent=True)]
        if with_loc:
            loc = row.get("localisation") or {}
            cells += [mean_std_cell(loc.get(key), percent=True) for key in
                      ("hit_rate", "withheld_hit_rate", "exact_hit_rate", "exact_withheld_hit_rate", "mass")]
        body.append(cells)
    return markdown_table(header, body)


def nmse_table(results: dict[str, Any]) -> str:
    """Table 2: nMSE per emotion (the table's nMSE), nMSE per GIF and mean Pearson r per row."""
    body = [[row["label"], mean_std_cell(row["metrics"].get("nmse_per_emotion")),
             mean_std_cell(row["metrics"].get("nmse_per_gif")), mean_std_cell(row["metrics"].get("pearson_mean"))]
            for row in ordered_rows(results)]
    return markdown_table(["Method", "nMSE (per emotion, Jou et al.)", "nMSE per GIF", "mean Pearson r"], body)


def splits_line(source: Any) -> str:
    """"- splits: 5 random 80/20 splits (seeded; test sets may overlap), split seed 0\n" from results.json's
    ``split_source`` ("" without one). A ``split_source`` without ``split_mode`` was written before that setting
    existed, when every seeded split was a fold."""
    if not isinstance(source, dict) or "n_splits" not in source:
        return ""
    mode = source.get("split_mode", "folds")
    line = f"- splits: {describe_splits(source['n_splits'], source.get('train_fraction', 0.8), mode)}"
    if "split_seed" in source:
        line += f", split seed {source['split_seed']}"
    if source.get("val_fraction"):
        line += f", {100 * source['val_fraction']:g} % of each training set held out for validation"
    if "split_mode" not in source:
        line += " (recorded before data.split_mode existed: folds)"
    return line + "\n"


def render_results(results: dict[str, Any]) -> str:
    """The whole results.md: provenance, Table 1, Table 2, the definitions."""
    out = io.StringIO()
    dataset = results["dataset"]
    n_splits = len(results["splits"])
    out.write(f"# Ablation on `{dataset['name']}`: {n_splits} split{'s' if n_splits != 1 else ''}, "
              f"{SETTINGS_TITLES.get(results['settings'], str(results['settings']) + ' settings')}\n\n")
    if n_splits < results.get("n_splits_protocol", n_splits):
        out.write(f"**Only {n_splits} of the protocol's {results['n_splits_protocol']} splits "
                  f"(splits {', '.join(map(str, results['splits']))}).**\n\n")
    synth = dataset.get("synthgif")
    out.write(f"- dataset: `{dataset['path']}`, {dataset['n_gifs']} GIFs, fingerprint `{dataset['fingerprint'][:16]}`"
              + (f"; SynthGIF preset `{synth['preset']}`, seed {synth['seed']}" if synth else "") + "\n")
    out.write(splits_line(results.get("split_source")))
    code = results.get("code")
    if code:
        out.write(f"- code: `{code['commit'][:12]}`" + (" (with uncommitted changes)" if code["dirty"] else "") + "\n")
    out.write(f"- command: `{' '.join(results['command'])}`\n")
    for row in results["rows"]:
        if row.get("config_hash"):
            out.write(f"- `{row['name']}`: config hash `{row['config_hash'][:16]}`\n")
    out.write("\n## Table 1: quadrant accuracy\n\n")
    out.write(accuracy_table(results))
    out.write("\n## Table 2: nMSE\n\n")
    out.write(nmse_table(results))
    claims = claims_section(results)
    if claims:
        out.write("\n## The paper's claims on these splits\n\n")
        out.write(claims)
    beyond = beyond_paper_section(results)
    if beyond:
        out.write("\n## Beyond the paper: the face-glimpse row on these splits\n\n")
        out.write(beyond)
    out.write("\nMean ± sample std (ddof = 1) over the splits. Accuracy: 4 circumplex quadrants (chance for a "
              "uniform guess: 25 %). nMSE per emotion (Jou et al. 2014): per emotion, Σ_i (ŷ_i − y_i)² / "
              "Σ_i (y_i − ȳ)² over the test GIFs, averaged over the 17 emotions — predicting the test mean scores "
              "1. nMSE per GIF: the same over the 17 emotions of one GIF, averaged over GIFs (the training "
              "loss). The chance row predicts the training split's mean intensities for every GIF.")
    if any(row.get("localisation") for row in results["rows"]):
        out.write(" Attention on face: share of test frames with a face where the attention's argmax cell lies "
                  "inside a true face box grown by one cell (kavan.experiments.localisation); \"keypoints withheld\": the "
                  "face frames whose estimated keypoints are all missing. Exact face box: the same without the "
                  "one-cell growth. Attention mass on face: the share of the attention map inside the exact face "
                  "boxes, averaged over face frames.")
        prior = next((row["localisation"] for row in results["rows"] if row.get("localisation")
                      and row["localisation"].get("centre_prior_hit_rate")), None)
        if prior:
            out.write(" Reference: a map that always peaks at the centre cell scores "
                      f"{mean_std_cell(prior['centre_prior_hit_rate'], percent=True)} (grown box) and "
                      f"{mean_std_cell(prior['centre_prior_exact_hit_rate'], percent=True)} (exact box) on the "
                      "same frames" + (f", and a uniform map puts {mean_std_cell(prior['face_area'], percent=True)} "
                                       "of its mass on the faces" if prior.get("face_area") else "") + ".")
    out.write("\n")
    return out.getvalue()
