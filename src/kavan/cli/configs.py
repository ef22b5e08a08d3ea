"""`kavan configs`: the row configs that ship with kavan, to list, print, copy and edit.

``kavan configs list`` prints every shipped config's name (``<setting>/<row>``) and its first comment line.
A shipped row is written as what differs from its ``base`` (kavan.config.read_mapping); ``kavan configs show NAME``
prints it resolved, every key with its value (as a run folder's config.yaml holds it), so ``kavan configs show bench/softatt-lstm > mine.yaml`` starts a
config of your own (or write ``base: bench/softatt-lstm`` and only your changes). ``--diff`` prints instead what
the row changes from its base, as a unified diff of the two resolved files; ``--as-written`` the file as it ships.
Every ``--config`` option takes a name as well as a file.
"""

from __future__ import annotations

import argparse
import difflib
import sys

NAME = "configs"
HELP = "list the row configs that ship with kavan, or print one resolved (to copy and edit)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "show"), help="list: every shipped config; show: print one")
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="the config to show: a shipped name (e.g. bench/mtl-softatt-hslstm) or a file")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--diff", action="store_true", help="with show: what the config changes from its base")
    shown.add_argument("--as-written", action="store_true", help="with show: the file as it is written")


def resolved_text(name: str) -> str:
    """The config resolved, every key with its value (its base chain merged, defaults filled in: what a run
    folder's config.yaml holds), as YAML, after the file's leading comment lines."""
    import yaml

    from kavan.config import config_file, load_config

    header = []
    for line in config_file(name).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    body = yaml.safe_dump(load_config(name).to_dict(), sort_keys=False, width=120)
    return "".join(line + "\n" for line in header) + body


def run(args: argparse.Namespace) -> int:
    from kavan.config import base_of, config_file, shipped_configs
    from kavan.core.errors import KavanError

    if args.action == "list":
        for name, path in shipped_configs().items():
            first = next((line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines()
                          if line.startswith("#")), "")
            print(f"{name:32s} {first}")
        return 0
    if not args.name:
        raise KavanError("kavan configs show needs a NAME (kavan configs list shows them)")
    if args.as_written:
        sys.stdout.write(config_file(args.name).read_text(encoding="utf-8"))
    elif args.diff:
        base = base_of(args.name)
        if base is None:
            raise KavanError("it names no base: kavan configs show prints all of it", config_file(args.name))
        strip = lambda text: [line for line in text.splitlines(keepends=True) if not line.startswith("#")]  # noqa: E731
        sys.stdout.writelines(difflib.unified_diff(strip(resolved_text(base)), strip(resolved_text(args.name)),
                                                   fromfile=base, tofile=args.name))
    else:
        sys.stdout.write(resolved_text(args.name))
    return 0
