"""The doctor measured on a corpus: healthy runs (no warning or error allowed) and induced
pathologies (the right finding must come first), each a real short training run from
glassnet.doctor.pathologies, every case under several seeds. Prints the per-case results and a
confusion table (expected first finding against found), and writes them to docs/doctor.md.

    python benchmarks/doctor_corpus.py [--seeds 0,1,2] [--no-write] [CASE ...]

Targets (issue 30): no warning or error on any healthy run; the right first finding on at least
95 % of the pathology runs.
"""
import argparse
import collections
import os
import re
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from glassnet.doctor import pathologies as P  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "doctor.md")
BEGIN, END = "<!-- corpus:begin -->", "<!-- corpus:end -->"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds of every case (default 0,1,2)")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/doctor.md")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.cases or list(P.CASES)
    rows, skipped = [], []
    t_all = time.perf_counter()
    for name in names:
        case = P.CASES[name]()
        if not P.available(case):
            skipped.append(name)
            continue
        for seed in seeds:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                r = P.run_case(name, seed)
            findings = P.examine_case(r)
            serious = [f for f in findings if f.severity != "info"]
            found = serious[0].code if serious else "(none)"
            expected = case.expected or "(none)"
            ep = r.trainer.history.epochs[-1]
            rows.append(dict(name=name, seed=seed, what=case.what, expected=expected, found=found,
                             severity=serious[0].severity if serious else "-", ok=found == expected,
                             healthy=case.expected is None, others=[f.code for f in serious[1:]],
                             acc=ep.get("accuracy"), val=ep.get("val_accuracy"), seconds=time.perf_counter() - t0))
            print(f"{name:24s} seed {seed}  expected {expected:22s} found {found:22s} "
                  f"{'ok' if found == expected else 'MISS'}  {rows[-1]['seconds']:.1f} s", flush=True)
    healthy = [r for r in rows if r["healthy"]]
    sick = [r for r in rows if not r["healthy"]]
    alarms = [r for r in healthy if not r["ok"]]
    right = [r for r in sick if r["ok"]]
    summary = (f"{len(healthy)} healthy runs ({len({r['name'] for r in healthy})} cases x {len(seeds)} seeds): "
               f"{len(alarms)} with a warning or error (target 0). {len(sick)} pathology runs "
               f"({len({r['name'] for r in sick})} cases x {len(seeds)} seeds): the right first finding on "
               f"{len(right)} ({100 * len(right) / max(len(sick), 1):.0f} %; target 95 %).")
    print("\n" + summary)
    table = confusion(rows)
    print("\n" + table)
    print(f"\n{time.perf_counter() - t_all:.0f} s" + (f"; skipped (not available here): {', '.join(skipped)}"
                                                      if skipped else ""))
    if not args.no_write and not args.cases:
        write(rows, summary, table, seeds, skipped)
    return 0 if not alarms and len(right) >= 0.95 * len(sick) else 1


def confusion(rows):
    """Expected first finding (rows) against found (columns), counting runs."""
    exp = sorted({r["expected"] for r in rows}, key=lambda c: (c != "(none)", c))
    found = sorted({r["found"] for r in rows}, key=lambda c: (c != "(none)", c))
    counts = collections.Counter((r["expected"], r["found"]) for r in rows)
    head = "| expected \\ found | " + " | ".join(f"`{c}`" for c in found) + " |"
    lines = [head, "|" + " --- |" * (len(found) + 1)]
    for e in exp:
        cells = []
        for f in found:
            n = counts.get((e, f), 0)
            cells.append(f"**{n}**" if n and e == f else (str(n) if n else ""))
        lines.append(f"| `{e}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(rows, summary, table, seeds, skipped):
    per_case = ["| case | what | expected first | found first (per seed) | accuracy, train / val |",
                "| --- | --- | --- | --- | --- |"]
    by = collections.OrderedDict()
    for r in rows:
        by.setdefault(r["name"], []).append(r)
    for name, rs in by.items():
        found = ", ".join(f"{r['found']}" + ("" if r["ok"] else " (miss)") for r in rs)
        accs = ", ".join(f"{r['acc']:.2f} / {r['val']:.2f}" for r in rs if r["acc"] is not None)
        per_case.append(f"| {name} | {rs[0]['what']} | {rs[0]['expected']} | {found} | {accs} |")
    block = "\n".join([BEGIN, "", f"Made with `python benchmarks/doctor_corpus.py --seeds {','.join(map(str, seeds))}` "
                       f"(2 cores, {time.strftime('%Y-%m-%d')})" + (f"; not available here: {', '.join(skipped)}"
                                                                    if skipped else "") + ".", "",
                       summary, "", "Confusion table (runs; the diagonal is right):", "", table, "",
                       "Per case:", "", *per_case, "", END])
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Measured on a corpus\n\n" + block + "\n"
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    sys.exit(main())
