"""Shared by the examples: the --quick/--out arguments and saving figures (when matplotlib is
installed). Not part of glassnet; each example uses only glassnet's public API and NumPy."""
import argparse
import os


def parse(argv, doc, name, extra=None):
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    if extra is not None:
        extra(ap)
    ap.add_argument("--quick", action="store_true", help="small data and few epochs (seconds; what the tests run)")
    ap.add_argument("--out", default=os.path.join("examples-out", name), help="folder for figures")
    return ap.parse_args(argv)


def figure(args, filename, draw, ncols=1, w=6.0, h=3.5):
    """Call ``draw(axes)`` on a new matplotlib Figure and save it under ``args.out``; returns the
    path, or None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(w * ncols, h))
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    draw(axes)
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, filename)
    fig.savefig(path, dpi=80)
    return path
