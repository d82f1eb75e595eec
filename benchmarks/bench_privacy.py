"""Membership inference: RMIA against LiRA, every attack against ART, and the privacy preset's time.

Three measurements, in one run, on adult-mlp-overfit and one image model
(mnist-cnn, with a small budget):

1. RMIA offline with 2 reference models against LiRA offline with 8 (and,
   for context, LiRA offline and online and RMIA with the other number), on
   the same members and non-members: TPR at 1% (and 0.1%) FPR with its
   Clopper-Pearson interval, ROC AUC with its DeLong interval, the smallest
   resolvable FPR (1 / non-members). The published claim (Zarifzadeh et al.,
   2024) is that RMIA with few reference models matches or beats LiRA with
   many.
2. Every attack against ART's ``MembershipInferenceBlackBox`` (random-forest
   and neural-network attack models, ``input_type="prediction"``, given the
   same black-box probabilities). ART's attack is supervised, so the sample
   is split in two halves (seeded, members and non-members alike): ART trains
   its attack model on one half and every attack is scored on the other.
3. The time of ``auditkit audit --zoo NAME --preset privacy`` on each zoo
   classifier, cold (a fresh reference-model cache) and, for the first model,
   warm (the cache of the cold run), with reference-model training on its own
   line (read from the report's note).

The reference models are the audit's own (:func:`reference_outputs`: each
trained by the zoo model's ``train_fn`` on a random half of a pool of the
scored records plus population records, every pool record in exactly half
of them), trained through the executor with two thread workers. By default
each trains on as many records as the audited model did (the pool is twice
that); ``--reference-train-size half`` gives the former pools (each model on
half of all scored and population records, 1,200 rows for
adult-mlp-overfit's 400), and ``--reference-train-size N`` any size.

ART is a benchmark-only dependency, never auditkit's::

    pip install --target /work/benchdeps --no-deps adversarial-robustness-toolbox six
    PYTHONPATH=/work/benchdeps python benchmarks/bench_privacy.py

Options: ``--reference-train-size`` (``target``, ``half`` or an integer),
``--image-per-side`` (members and non-members of mnist-cnn, default
500), ``--timing-models`` (default: the tabular models, mnist-cnn,
vowels-gru and sentiment-lstm), ``--no-timing``, ``--json PATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from auditkit import CheckContext, wrap_model, zoo
from auditkit.checks._executor import LocalExecutor
from auditkit.checks.privacy._common import membership_sample, target_proba
from auditkit.checks.privacy._metrics import attack_score
from auditkit.checks.privacy._scoring import run_attacks

SEED = 0
FPRS = (0.001, 0.01)
ATTACKS = ("loss", "confidence", "entropy", "modified_entropy", "gap", "noise_robustness",
           "lira_online", "lira_offline", "rmia_offline")
REFERENCE_ATTACKS = ("lira_online", "lira_offline", "rmia_offline")
# The membership check's defaults, so that the benchmark measures what an audit runs.
OPTIONS = {"fixed_variance": True, "offline_a": 0.3, "gamma": 1.0, "noise_copies": 8,
           "noise_scale": 0.05}
TIMING_MODELS = ("adult-mlp", "adult-mlp-overfit", "adult-mlp-canary", "compas-mlp",
                 "mnist-cnn", "vowels-gru", "sentiment-lstm")


def _row(name: str, scores: np.ndarray, member: np.ndarray) -> dict[str, object]:
    s = attack_score(scores, member, fprs=FPRS)
    row: dict[str, object] = {"attack": name, "auc": s.auc, "auc_ci": (s.auc_lower, s.auc_upper),
                              "advantage": s.advantage, "min_fpr": s.min_resolvable_fpr}
    for t in s.at_fpr:
        row[f"tpr@{t.target_fpr:g}"] = (t.tpr, t.lower, t.upper, t.true_positives,
                                        t.n_members, t.reason)
    return row


def _fmt_tpr(cell: tuple) -> str:
    tpr, lower, upper, tp, n, reason = cell
    if reason is not None:
        return "not resolvable"
    return f"{tpr:6.1%} [{lower:5.1%}, {upper:5.1%}] ({tp}/{n})"


def _print_table(title: str, rows: list[dict[str, object]]) -> None:
    print(f"\n{title}")
    print(f"{'attack':<28} {'TPR@1% FPR [95% CP]':<32} {'TPR@0.1% FPR':<30} "
          f"{'AUC [95% DeLong]':<22} {'adv.':>5}")
    for r in rows:
        auc_lo, auc_hi = r["auc_ci"]
        print(f"{r['attack']:<28} {_fmt_tpr(r['tpr@0.01']):<32} {_fmt_tpr(r['tpr@0.001']):<30} "
              f"{r['auc']:.3f} [{auc_lo:.3f}, {auc_hi:.3f}]   {r['advantage']:.3f}")
    print(f"smallest resolvable FPR: {rows[0]['min_fpr']:.2%}")


def _art_scores(adapter, proba_train, y_train, member_train, proba_eval, y_eval, n_classes,
                input_shape, kind: str) -> np.ndarray:
    """ART's black-box attack trained on one half, its member probability on the other."""
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from art.estimators.classification import BlackBoxClassifier

    estimator = BlackBoxClassifier(lambda x: adapter.predict_proba(x), input_shape,
                                   n_classes)
    attack = MembershipInferenceBlackBox(estimator, input_type="prediction",
                                         attack_model_type=kind)
    onehot = np.eye(n_classes)
    np.random.seed(SEED)  # noqa: NPY002 (ART draws from numpy's and torch's global RNGs)
    import torch

    torch.manual_seed(SEED)
    attack.fit(y=onehot[y_train[member_train]], test_y=onehot[y_train[~member_train]],
               pred=proba_train[member_train], test_pred=proba_train[~member_train])
    return np.asarray(attack.infer(None, onehot[y_eval], pred=proba_eval,
                                   probabilities=True))[:, -1].astype(np.float64)


def benchmark_model(name: str, max_per_side: int | None, population_size: int,
                    cache_dir: str, workers: int,
                    reference_train_size: int | None = None) -> dict[str, object]:
    """Tables 1 and 2 for one zoo model."""
    module, data = zoo.load(name)
    adapter = wrap_model(module, device="cpu")
    context = CheckContext(random_state=SEED, executor=LocalExecutor(workers))
    sample = membership_sample(data, max_per_side, context)
    proba = target_proba(adapter, sample, context)
    label_index = adapter.label_indices(sample.y)
    rng = np.random.default_rng(SEED)
    out: dict[str, object] = {"model": name, "n_members": sample.n_members,
                              "n_non_members": sample.n_non_members}
    runs, training = {}, {}
    for k in (2, 8):
        started = time.perf_counter()
        runs[k] = run_attacks(adapter, data, sample, context,
                              attacks=ATTACKS if k == 8 else REFERENCE_ATTACKS,
                              n_reference_models=k, population_size=population_size,
                              cache_dir=cache_dir, rng=np.random.default_rng(SEED),
                              reference_train_size=reference_train_size, **OPTIONS)
        refs = runs[k].references
        training[k] = {"seconds_training": refs.seconds_training,
                       "seconds_total": time.perf_counter() - started,
                       "from_cache": refs.from_cache, "description": refs.description}
        print(f"[{name}] k={k}: {refs.description}", flush=True)
    out["reference_training"] = training
    member = sample.member

    head_to_head = [_row("RMIA offline, 2 ref.", runs[2].scores["rmia_offline"], member),
                    _row("LiRA offline, 8 ref.", runs[8].scores["lira_offline"], member),
                    _row("LiRA offline, 2 ref.", runs[2].scores["lira_offline"], member),
                    _row("LiRA online, 8 ref.", runs[8].scores["lira_online"], member),
                    _row("RMIA offline, 8 ref.", runs[8].scores["rmia_offline"], member)]
    _print_table(f"{name}: RMIA (2 reference models) vs LiRA (8), {sample.n_members} members / "
                 f"{sample.n_non_members} non-members", head_to_head)
    out["rmia_vs_lira"] = head_to_head

    # Table 2: ART trains on half A, every attack is scored on half B.
    half = np.zeros(len(member), dtype=bool)
    for side in (member, ~member):
        idx = np.flatnonzero(side)
        half[rng.choice(idx, len(idx) // 2, replace=False)] = True
    train_half, eval_half = half, ~half
    scores = dict(runs[8].scores)
    scores = {("LiRA offline, 8 ref." if a == "lira_offline" else
               "LiRA online, 8 ref." if a == "lira_online" else
               "RMIA offline, 8 ref." if a == "rmia_offline" else a): s
              for a, s in scores.items()}
    scores["RMIA offline, 2 ref."] = runs[2].scores["rmia_offline"]
    art_rows, art_seconds = [], {}
    try:
        for kind in ("rf", "nn"):
            started = time.perf_counter()
            art = _art_scores(adapter, proba[train_half], label_index[train_half],
                              member[train_half], proba[eval_half], label_index[eval_half],
                              adapter.n_classes, tuple(sample.X.shape[1:]), kind)
            art_seconds[kind] = time.perf_counter() - started
            art_rows.append(_row(f"ART MIBlackBox ({kind})", art, member[eval_half]))
        art_error = None
    except ImportError as exc:
        art_error = f"ART not importable ({exc}); install it as the docstring says"
        print(f"\n{art_error}")
    rows = [_row(a, s[eval_half], member[eval_half]) for a, s in scores.items()] + art_rows
    rows.sort(key=lambda r: -r["tpr@0.01"][0])
    _print_table(f"{name}: every attack vs ART, scored on the held-out half "
                 f"({int(member[eval_half].sum())} members / {int((~member[eval_half]).sum())} "
                 "non-members; ART trained on the other half)", rows)
    out["vs_art"] = rows
    out["art_seconds"] = art_seconds
    out["art_error"] = art_error
    return out


def time_preset(names: tuple[str, ...], cache_root: Path) -> list[dict[str, object]]:
    """Wall time of the CLI's privacy preset per zoo model: cold, then warm for the first."""
    rows = []
    runs = [(n, "cold") for n in names] + ([(names[0], "warm")] if names else [])
    for name, state in runs:
        cache = cache_root / name
        env = {**os.environ, "AUDITKIT_CACHE_DIR": str(cache)}
        with tempfile.TemporaryDirectory() as tmp:
            report, result = Path(tmp) / "r.html", Path(tmp) / "r.json"
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "auditkit.cli", "audit", "--zoo", name, "--preset",
                 "privacy", "--out", str(report), "--json", str(result), "--quiet"],
                env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            text = result.read_text() if result.is_file() else ""
        trained = re.findall(r"trained in ([0-9.]+) s", text)
        statuses = re.findall(r'"status": "([A-Z]+)"', text)
        row = {"model": name, "state": state, "seconds": seconds,
               "seconds_reference_training": float(trained[0]) if trained else 0.0,
               "reference_from_cache": "read from the cache" in text,
               "statuses": statuses, "returncode": done.returncode,
               "stderr_tail": done.stderr[-400:] if done.returncode not in (0, 1) else ""}
        rows.append(row)
        hit = " (cache hit)" if row["reference_from_cache"] else ""
        print(f"{name:<20} {state:<5} {seconds:7.1f} s total, reference-model training "
              f"{row['seconds_reference_training']:6.1f} s{hit}; "
              f"statuses {statuses}; rc {done.returncode} {row['stderr_tail']}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-per-side", type=int, default=500)
    parser.add_argument("--population-size", type=int, default=1000)
    parser.add_argument("--reference-train-size", default="target",
                        help="records per reference model: 'target' (the audited model's "
                             "training-set size), 'half' (half of all candidates) or an integer")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", nargs="*", default=["adult-mlp-overfit", "mnist-cnn"])
    parser.add_argument("--timing-models", nargs="*", default=list(TIMING_MODELS))
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--cache-dir", default=None,
                        help="reference-model cache (default: a fresh temporary folder)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import torch

    print(f"torch threads {torch.get_num_threads()}, CPUs {os.cpu_count()}, "
          f"executor workers {args.workers}")
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = args.cache_dir or tmp
        results: dict[str, object] = {"models": [],
                                      "reference_train_size": args.reference_train_size}
        # 'half': a size no pool reaches, so that each model gets half of all candidates
        train_size = {"target": None, "half": 10**9}.get(args.reference_train_size)
        if train_size is None and args.reference_train_size != "target":
            train_size = int(args.reference_train_size)
        for name in args.models:
            per_side = args.image_per_side if name.startswith("mnist") else 1000
            results["models"].append(benchmark_model(name, per_side, args.population_size,
                                                     cache_dir, args.workers, train_size))
        if not args.no_timing:
            print("\n--preset privacy (auditkit audit --zoo NAME --preset privacy), 2-core CPU")
            results["timing"] = time_preset(tuple(args.timing_models), Path(tmp) / "timing")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
