"""`kavan export MODEL --onnx OUT.onnx`: the model file as an ONNX graph (dynamic batch), checked against PyTorch
before it is written (kavan.predict.onnx). ``--check FILE ...`` compares on those files' clips (default: seeded
random clips). Prints the check's report as JSON. Needs the [onnx] extra. Details: docs/predict.md.
"""

from __future__ import annotations

import argparse
import json

NAME = "export"
HELP = "export a trained model file to ONNX (dynamic batch), checked against PyTorch on sample clips"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="trained model file (model.safetensors)")
    parser.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    parser.add_argument("--check", nargs="+", default=[], metavar="FILE",
                        help="media files whose clips the ONNX graph must reproduce (default: seeded random clips)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: kavan.predict.onnx.OPSET, 18)")


def run(args: argparse.Namespace) -> int:
    from kavan.predict.onnx import OPSET, export_onnx

    report = export_onnx(args.model, args.onnx, args.check, args.opset or OPSET)
    print(json.dumps(report.to_json(), indent=2))
    return 0
