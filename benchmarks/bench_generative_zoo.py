"""The generative preset on every generative zoo model: time, peak memory, every metric.

For each model, in a fresh process (so that peak memory is that audit's own):
``audit(model, data, preset="generative")`` with seed 0 on the zoo's default
feature extractor (mnist-cnn's penultimate layer). Prints

1. a time and peak-RSS line per model (the audit itself; loading is its own
   column), and each check's verdict;
2. the fidelity metrics of every model with the floor (real training against
   real held-out data) and the ceilings (corrupted real data) beside them;
3. coverage, memorisation and membership figures per model.

    python benchmarks/bench_generative_zoo.py [--models mnist-gan,mnist-vae] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

MODELS = ("mnist-vae", "mnist-gan", "mnist-gan-memorizing", "mnist-gan-collapsed")


def one(name: str) -> dict:
    """Audit one model in this process and return what the tables need."""
    from auditkit import audit, zoo

    start = time.perf_counter()
    model, data = zoo.load(name)
    loaded = time.perf_counter()
    result = audit(model, data, preset="generative", progress=False)
    done = time.perf_counter()
    out = {"name": name, "load_s": loaded - start, "audit_s": done - loaded,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "checks": {}}
    for check in result.results:
        metrics = {k: [m.value, m.lower, m.upper] for k, m in check.metrics.items()}
        entry = {"status": check.status.value, "seconds": check.duration_s,
                 "metrics": metrics}
        if check.name == "generative_fidelity":
            entry["table"] = check.tables["metrics"].to_dict("list")
        out["checks"][check.name] = entry
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def report(rows: list[dict]) -> None:
    print("\n| model | load (s) | audit (s) | peak RSS (MiB) | fidelity | coverage | "
          "memorisation | membership | autoencoder |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c = r["checks"]
        cells = [f"{c[k]['status']} ({c[k]['seconds']:.1f} s)" for k in (
            "generative_fidelity", "generative_coverage", "generative_memorisation",
            "generative_membership", "generative_autoencoder")]
        print(f"| {r['name']} | {r['load_s']:.1f} | {r['audit_s']:.1f} | "
              f"{r['peak_rss_mib']:.0f} | " + " | ".join(cells) + " |")
    print("\nFidelity (model [interval]; floor = real training vs real held-out; ceilings = "
          "corrupted real vs real held-out):")
    for r in rows:
        table = r["checks"]["generative_fidelity"].get("table")
        if not table:
            continue
        ceilings = [k for k in table if k.startswith("ceiling: ")]
        print(f"\n{r['name']}\n| metric | model | floor | "
              + " | ".join(k.removeprefix("ceiling: ") for k in ceilings) + " |")
        print("|---" * (3 + len(ceilings)) + "|")
        for i, metric in enumerate(table["metric"]):
            model = (f"{_fmt(table['model'][i])} [{_fmt(table['model_lower'][i])}, "
                     f"{_fmt(table['model_upper'][i])}]")
            print(f"| {metric} | {model} | {_fmt(table['floor'][i])} | "
                  + " | ".join(_fmt(table[k][i]) for k in ceilings) + " |")
    print("\n| model | missing / under-represented classes | KL (nats) | confident share | "
          "Vendi | near-copy share | C_T | authenticity | best TPR@1%FPR [interval] | AUC |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c = r["checks"]
        cov = c["generative_coverage"]["metrics"]
        mem = c["generative_memorisation"]["metrics"]
        mia = c["generative_membership"]["metrics"]
        tpr = mia.get("tpr_at_1pct_fpr", [None, None, None])
        print(f"| {r['name']} | {cov['missing_modes'][0]:.0f} / "
              f"{cov['underrepresented_modes'][0]:.0f} | {cov['class_kl_divergence'][0]:.3f} | "
              f"{cov['confident_share'][0]:.1%} | {cov['vendi_score'][0]:.2f} "
              f"(real {cov['vendi_score_real'][0]:.2f}) | {mem['near_copy_share'][0]:.1%} "
              f"[{mem['near_copy_share'][1]:.1%}, {mem['near_copy_share'][2]:.1%}] | "
              f"{mem['data_copying_ct'][0]:.2f} | {mem['authenticity'][0]:.1%} | "
              f"{_fmt(tpr[0])} [{_fmt(tpr[1])}, {_fmt(tpr[2])}] | {mia['auc'][0]:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--json", default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    rows = []
    for name in args.models.split(","):
        done = subprocess.run([sys.executable, __file__, "--one", name], check=True,
                              capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{name}: audit {rows[-1]['audit_s']:.1f} s, peak RSS "
              f"{rows[-1]['peak_rss_mib']:.0f} MiB", flush=True)
    report(rows)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
