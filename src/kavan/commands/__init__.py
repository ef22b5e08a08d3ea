"""Sub-commands of the `kavan` CLI: one module per command.

Each module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`. The CLI discovers them,
so adding a command is adding a file here. Heavy imports (torch, PyAV, ...) belong inside `run`.
"""
