"""`kavan configs`: the row configs that ship with kavan, to list, print, copy and edit.

``kavan configs list`` prints every shipped config's name (``<setting>/<row>``) and its first comment line;
``kavan configs show NAME`` prints the file as it ships, so ``kavan configs show bench/softatt-lstm > mine.yaml``
starts a config of your own. Every ``--config`` option takes a name as well as a file.
"""

from __future__ import annotations

import argparse
import sys

NAME = "configs"
HELP = "list the row configs that ship with kavan, or print one (to copy and edit)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "show"), help="list: every shipped config; show: print one")
    parser.add_argument("name", nargs="?", metavar="NAME", help="the config to show, e.g. bench/mtl-softatt-hslstm")


def run(args: argparse.Namespace) -> int:
    from kavan.config import config_file, shipped_configs
    from kavan.core.errors import KavanError

    if args.action == "list":
        for name, path in shipped_configs().items():
            first = next((line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines()
                          if line.startswith("#")), "")
            print(f"{name:32s} {first}")
        return 0
    if not args.name:
        raise KavanError("kavan configs show needs a NAME (kavan configs list shows them)")
    sys.stdout.write(config_file(args.name).read_text(encoding="utf-8"))
    return 0
