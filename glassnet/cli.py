"""The ``glassnet`` command line."""
from __future__ import annotations

import argparse
import sys


def _cmd_gradcheck(args) -> int:
    from .gradcheck import check_builtins, format_table

    results = check_builtins(seed=args.seed)
    print("Gradient check of every built-in layer and loss: float64, centered differences (h=1e-5),\n"
          "relative error |a-n|/max(|a|,|n|) per element (raw), and the same after allowing for the\n"
          "finite differences' own rounding noise (graded against 1e-7, or 1e-5 with kinks)")
    print(format_table(results))
    if args.verbose:
        for _, r in results:
            print()
            print(r)
    return 0 if all(r.passed for _, r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassnet", description="glassnet: deep learning you can see through")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("gradcheck", help="gradient-check every built-in layer and loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-v", "--verbose", action="store_true", help="print every tensor's report")
    p.set_defaults(func=_cmd_gradcheck)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(f"glassnet {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
