"""The ``hng`` command: the parser of every command, and the one place its errors become exit codes.

Exit codes: 0 done; 2 a usage error (an argument or option breaks a rule: hng's `InvalidInput`, or the
ValueError/TypeError the library raises for bad arguments); 1 anything else hng reports (data or a service
unavailable, a conflict, a file system fault such as a full disk); 130 interrupted. Each is one line on
stderr, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hng import __version__
from hng.cli import data, dataset, generate, serve
from hng.cli.options import USAGE_ERROR, UsageParser, as_options
from hng.errors import HngError, InvalidInput

COMMANDS = (generate, dataset, data, serve)


def build_parser() -> UsageParser:
    parser = UsageParser(prog="hng", description="Handwritten-number images from real MNIST digits.")
    parser.add_argument("--version", action="version", version=f"hng {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=UsageParser)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def exit_status(command: str, error: BaseException) -> tuple[int, str]:
    """The exit code and the one line to print for an error that ended ``hng <command>``."""
    if isinstance(error, InvalidInput):
        return USAGE_ERROR, f"hng {command}: error: {as_options(error)}"
    if isinstance(error, HngError):
        return 1, f"hng {command}: {error}"
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return 1, f"hng {command}: {where}{error.strerror or error}"
    if isinstance(error, ValueError | TypeError):
        return USAGE_ERROR, f"hng {command}: error: {error}"
    raise error


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (HngError, OSError, ValueError, TypeError) as error:
        # `hng data` has only subcommands; `hng dataset`'s finalize and resume report as `hng dataset`.
        command = f"data {args.data_command}" if args.command == "data" else args.command
        code, line = exit_status(command, error)
        print(line, file=sys.stderr)
        return code
