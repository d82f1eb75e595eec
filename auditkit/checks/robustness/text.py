"""Robustness of text classifiers: synonym swaps and typos that flip predictions.

A black-box, score-based word-level attack on the raw sentences
(``AuditData.texts``, encoded with ``AuditData.tokenizer``): words are ranked
by leave-one-out importance, then the most important ones are replaced in
turn by the candidate that lowers the true-class margin most, until the
prediction flips or at most ``max_words_changed`` words have changed (see
:mod:`._text_attack`). Three searches run on the same ranking:
WordNet synonyms only (as in TextFooler and PWWS, without their embedding
filters), keyboard typos only (DeepWordBug), and both candidate sets together;
a prediction counts as flipped by the combined attack when any of the three
flips it. Reported: attack success (Wilson intervals), robust accuracy, success
by number of changed words, per class and per sensitive group, and examples
with the changed words marked ``[[...]]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, map_units, register_check
from .._classification import predictions
from .._params import CONFIDENCE, NON_NEGATIVE_INT, POSITIVE_INT, SAMPLE_SIZE, Interval
from .._text import needs_texts, split_words
from ._common import (
    group_robustness_table,
    proportion,
    select_samples,
    wilson_interval,
)
from ._text_attack import (
    ATTACKS,
    KEYBOARD,
    TextAttack,
    TextAttackRun,
    adjacent_swaps,
    deletions,
    keyboard_insertions,
    keyboard_substitutions,
    load_synonyms,
    typos,
    word_budget,
)

__all__ = ["KEYBOARD", "RobustnessText", "adjacent_swaps", "deletions", "keyboard_insertions",
           "keyboard_substitutions", "typos"]

#: Sentences per unit of work: every round of a unit is one model call.
_CHUNK = 128
NOTHING_CORRECT = ("The model classifies none of the {n} selected sentences correctly, so "
                   "there is no correct prediction to attack.")


@dataclass(frozen=True)
class _TextInputs:
    """What every chunk of sentences needs, sent once per worker."""

    attacker: TextAttack
    max_words_changed: int
    max_fraction_changed: float


def _attack_chunk(shared: _TextInputs, chunk: tuple[np.ndarray, list[list[str]], np.ndarray]
                  ) -> dict[str, Any]:
    """One unit of work: the three searches on a chunk of (sample index, words, true class)."""
    samples, part, target = chunk
    attacker = shared.attacker
    base = attacker.rank_words(part, target)
    # a sentence is attacked only if the model gets it right (on its own encoding)
    budget = np.array([word_budget(p, shared.max_words_changed, shared.max_fraction_changed)
                       if m > 0 else 0 for p, m in zip(part, base[0], strict=True)])
    runs = {a: attacker.search(a, samples.tolist(), part, target, budget, base)
            for a in ATTACKS}
    return {"correct": base[0] > 0, "proba": base[1], "queries": base[4], "runs": runs}


@register_check
@dataclass(frozen=True)
class RobustnessText(Check):
    """Greedy synonym and typo attacks on text: success rate, robust accuracy, examples.

    Parameters
    ----------
    n_samples : int or None, default=500
        Audited sentences drawn (seeded) for the attack; None takes all. The
        correctly classified ones among them are attacked.
    max_words_changed : int, default=3
        The budget: at most this many words change per sentence.
    max_fraction_changed : float, default=0.25
        And at most this fraction of a sentence's words (rounded up; at least
        one word), so that short sentences keep most of their words.
    n_typos : int, default=6
        Typos tried per word (drawn, seeded, across the four kinds of edit).
    n_examples : int, default=6
        Attacked sentences shown, successful ones with the fewest changes first.
    min_group_size : int, default=30
        Classes and groups smaller than this are flagged as too small to judge.
    confidence : float, default=0.95
        Level of the intervals.
    """

    name = "robustness_text"
    # Relative cost (progress ETA): a word-substitution search per text.
    cost = 10.0
    family = "robustness"
    order = 30
    tags = ("text", "adversarial", "black-box")
    description = ("Black-box word-level attacks on the raw sentences: WordNet synonyms and "
                   "keyboard typos replace the most important words, at most a few per "
                   "sentence. Attack success, robust accuracy, success by number of changed "
                   "words, per class and sensitive group, and marked examples.")
    requires = frozenset({"predict", "probabilities"})
    modalities = ("text",)

    n_samples: int | None = 500
    max_words_changed: int = 3
    max_fraction_changed: float = 0.25
    n_typos: int = 6
    n_examples: int = 6
    min_group_size: int = 30
    confidence: float = 0.95

    verdict_metrics = ("attack_success_rate",)
    shares = ("predictions",)
    parameter_constraints = {
        "n_samples": SAMPLE_SIZE,
        "max_words_changed": POSITIVE_INT,
        "max_fraction_changed": [Interval(Real, 0, 1, closed="right")],
        "n_typos": POSITIVE_INT,
        "n_examples": NON_NEGATIVE_INT,
        "min_group_size": POSITIVE_INT,
        "confidence": CONFIDENCE,
    }

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Why the check does not apply: also when the raw texts or the tokenizer are missing."""
        reason = super().skip_reason(model, data)
        if reason is None and (data.tokenizer is None or data.texts is None):
            reason = needs_texts("Text attacks")
        return reason

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Attack the correctly classified sentences; see the module docstring."""
        rng = context.rng(self.name)
        pred = predictions(model, data, context)
        index = select_samples(data, self.n_samples, rng)
        seed = int(rng.integers(2**63))
        attacker = TextAttack(model.predict_proba, data.tokenizer, load_synonyms(),
                              _vocabulary(data.tokenizer), self.n_typos, seed)
        pieces = [split_words(data.texts[i]) for i in index]
        target = pred.y[index]

        shared = _TextInputs(attacker, self.max_words_changed, self.max_fraction_changed)
        chunks = [(index[s:s + _CHUNK], pieces[s:s + _CHUNK], target[s:s + _CHUNK])
                  for s in range(0, len(index), _CHUNK)]
        found = _Outcome.combine(map_units(context, _attack_chunk, chunks,
                                           description="Text attacks", shared=shared))
        if not found.correct.any():
            return self.result(Status.SKIP, NOTHING_CORRECT.format(n=len(index)))
        success, needed, correct = found.success, found.needed, found.correct
        c = self.confidence
        metrics = {
            "attack_success_rate": proportion(success["combined"], confidence=c,
                                              higher_is_better=False),
            "synonym_success_rate": proportion(success["synonym"], confidence=c,
                                               higher_is_better=False),
            "typo_success_rate": proportion(success["typo"], confidence=c,
                                            higher_is_better=False),
            "robust_accuracy": proportion(found.correct_after, confidence=c,
                                          higher_is_better=True),
            "clean_accuracy": proportion(correct, confidence=c, higher_is_better=True),
        }
        if success["combined"].any():
            metrics["mean_words_changed"] = Metric(
                float(needed["combined"][success["combined"]].mean()),
                n=int(success["combined"].sum()))
        metrics["mean_queries"] = Metric(float(found.queries["combined"].mean()),
                                         n=int(correct.sum()))
        budget_table = self._budget_table(success, needed)
        names = pred.class_names
        tables = {
            "attacks": self._attack_table(found),
            "success_by_budget": budget_table,
            "by_class": group_robustness_table(correct, found.correct_after,
                                               [names[k] for k in target],
                                               min_group_size=self.min_group_size,
                                               confidence=c),
        }
        if data.sensitive is not None:
            tables["by_sensitive_group"] = self._group_table(data, index, correct,
                                                             found.correct_after)
        examples, figure = self._examples(found, index, target, pieces, names)
        tables["examples"] = examples
        figures = {"success_by_budget": self._budget_figure(budget_table, int(correct.sum()))}
        if figure is not None:
            figures["examples"] = figure
        return self.result(Status.INFO, self._headline(metrics), metrics=metrics,
                           tables=tables, figures=figures)

    # -- pieces ------------------------------------------------------------------------

    def _attack_table(self, found: _Outcome) -> pd.DataFrame:
        rows = []
        for a in ATTACKS:
            hits = found.success[a]
            low, high = wilson_interval(hits.sum(), len(hits), self.confidence)
            rows.append({"attack": a, "attacked": len(hits), "flipped": int(hits.sum()),
                         "success_rate": hits.mean(), "lower": float(low), "upper": float(high),
                         "mean_words_changed": found.needed[a][hits].mean() if hits.any()
                         else np.nan, "mean_queries": float(found.queries[a].mean())})
        return pd.DataFrame(rows)

    def _budget_table(self, success: dict[str, np.ndarray],
                      needed: dict[str, np.ndarray]) -> pd.DataFrame:
        rows = []
        for a in ATTACKS:
            n = len(success[a])
            for b in range(1, self.max_words_changed + 1):
                k = int((success[a] & (needed[a] <= b)).sum())
                low, high = wilson_interval(k, n, self.confidence)
                rows.append({"attack": a, "max_words_changed": b, "flipped": k, "n": n,
                             "success_rate": k / n, "lower": float(low), "upper": float(high)})
        return pd.DataFrame(rows)

    def _group_table(self, data: AuditData, index: np.ndarray, correct: np.ndarray,
                     correct_after: np.ndarray) -> pd.DataFrame:
        parts = []
        for column in data.sensitive.columns:
            table = group_robustness_table(correct, correct_after,
                                           data.sensitive[column].to_numpy()[index],
                                           min_group_size=self.min_group_size,
                                           confidence=self.confidence)
            table.insert(0, "sensitive_feature", column)
            parts.append(table)
        return pd.concat(parts, ignore_index=True)

    def _budget_figure(self, table: pd.DataFrame, n: int) -> Figure:
        shape = (len(ATTACKS), self.max_words_changed)
        return Figure("text_attack_budget", {
            "attacks": list(ATTACKS), "budget": np.arange(1, self.max_words_changed + 1),
            "success_rate": table["success_rate"].to_numpy(dtype=float).reshape(shape),
            "lower": table["lower"].to_numpy(dtype=float).reshape(shape),
            "upper": table["upper"].to_numpy(dtype=float).reshape(shape),
            "n": n, "confidence": self.confidence},
            "Attack success against the number of words changed")

    def _examples(self, found: _Outcome, index: np.ndarray, target: np.ndarray,
                  pieces: list[list[str]], names: tuple[str, ...]
                  ) -> tuple[pd.DataFrame, Figure | None]:
        runs, proba = found.runs, found.proba
        # per sentence, the search that flipped it with the fewest words (joint search on ties)
        chosen = np.array([2, 0, 1])[np.argmin(found.words[[2, 0, 1]], axis=0)]
        flipped = found.flipped
        margin_after = np.array([runs[ATTACKS[a]]["margin"][i] for i, a in enumerate(chosen)])
        n_changed = np.array([runs[ATTACKS[a]]["words_changed"][i]
                              for i, a in enumerate(chosen)])
        candidates = np.flatnonzero(found.correct)
        order = np.lexsort((margin_after[candidates], n_changed[candidates],
                            ~flipped[candidates]))
        shown = candidates[order][: self.n_examples]
        records, figure_rows = [], []
        for i in shown:  # a handful of examples, for the reader
            run = runs[ATTACKS[chosen[i]]]
            after = run["pieces"][i]
            changed = [k for k, _, _ in run["changes"][i]]
            p_after = run["proba"][i]
            records.append({
                "sample": int(index[i]), "attack": ATTACKS[chosen[i]],
                "true_class": names[target[i]],
                "prediction_after": names[int(np.argmax(p_after))],
                "flipped": bool(flipped[i]), "words_changed": len(changed),
                "p_true_before": float(proba[i, target[i]]),
                "p_true_after": float(p_after[target[i]]),
                "original": _marked(pieces[i], changed), "perturbed": _marked(after, changed),
                "changes": "; ".join(f"{old} \u2192 {new} ({_kind(old, new)})"
                                     for _, old, new in run["changes"][i]),
            })
            figure_rows.append((pieces[i], after, changed))
        table = pd.DataFrame.from_records(records, columns=[
            "sample", "attack", "true_class", "prediction_after", "flipped", "words_changed",
            "p_true_before", "p_true_after", "original", "perturbed", "changes"])
        if not records:
            return table, None
        figure = Figure("text_attack_examples", {
            "original": [list(o) for o, _, _ in figure_rows],
            "perturbed": [list(p) for _, p, _ in figure_rows],
            "changed": [list(c) for _, _, c in figure_rows],
            "true_class": table["true_class"].tolist(),
            "prediction_after": table["prediction_after"].tolist(),
            "p_true_before": table["p_true_before"].to_numpy(dtype=float),
            "p_true_after": table["p_true_after"].to_numpy(dtype=float),
            "flipped": table["flipped"].to_numpy(dtype=bool)},
            "Attacked sentences, changed words marked")
        return table, figure

    def _headline(self, metrics: dict[str, Metric]) -> str:
        rate = metrics["attack_success_rate"]
        plural = "s" if self.max_words_changed > 1 else ""
        return (f"Changing at most {self.max_words_changed} word{plural} (and at most "
                f"{self.max_fraction_changed:.0%} of a sentence's words) flips {rate.value:.1%} "
                f"[{rate.lower:.1%}, {rate.upper:.1%}] of the {rate.n:,} correct predictions "
                f"attacked (synonyms: {metrics['synonym_success_rate'].value:.1%}, typos: "
                f"{metrics['typo_success_rate'].value:.1%}); robust accuracy "
                f"{metrics['robust_accuracy'].value:.1%} against "
                f"{metrics['clean_accuracy'].value:.1%} clean.")


@dataclass(frozen=True)
class _Outcome:
    """The three searches over all chunks, and the combined attack built from them.

    ``runs``, ``words``, ``flipped``, ``proba`` and ``correct`` cover every
    selected sentence; ``success``, ``needed`` and ``queries`` (per attack) only
    the correctly classified ones, which were attacked.
    """

    runs: dict[str, dict[str, Any]]
    words: np.ndarray  # (3, n): words a successful search changed, "infinite" otherwise
    flipped: np.ndarray
    proba: np.ndarray
    correct: np.ndarray
    success: dict[str, np.ndarray]
    needed: dict[str, np.ndarray]
    queries: dict[str, np.ndarray]

    @property
    def correct_after(self) -> np.ndarray:
        """Correctly classified and not flipped by any search."""
        return self.correct & ~self.flipped

    @classmethod
    def combine(cls, parts: list[dict[str, Any]]) -> _Outcome:
        """Join the chunks; the combined attack flips what any search flips, in fewest words."""
        runs = {a: _concatenate([p["runs"][a] for p in parts]) for a in ATTACKS}
        correct = np.concatenate([p["correct"] for p in parts])
        never = np.iinfo(np.int64).max
        words = np.stack([np.where(runs[a]["success"], runs[a]["words_changed"], never)
                          for a in ATTACKS])
        flipped = (words < never).any(axis=0)
        ranking = np.concatenate([p["queries"] for p in parts])
        success = {a: runs[a]["success"][correct] for a in ATTACKS[:2]}
        needed = {a: runs[a]["words_changed"][correct] for a in ATTACKS[:2]}
        queries = {a: runs[a]["queries"][correct] for a in ATTACKS[:2]}
        success["combined"] = flipped[correct]
        needed["combined"] = words.min(axis=0)[correct]
        # everything spent on a sentence: its ranking and all three searches
        queries["combined"] = (ranking + sum(runs[a]["queries"] for a in ATTACKS))[correct]
        return cls(runs, words, flipped, np.concatenate([p["proba"] for p in parts]),
                   correct, success, needed, queries)


def _vocabulary(tokenizer: object) -> frozenset[str] | None:
    """Lowercase words the tokenizer knows (``vocab`` or ``get_vocab()``), if it tells."""
    vocab = getattr(tokenizer, "vocab", None)
    if vocab is None and callable(getattr(tokenizer, "get_vocab", None)):
        vocab = tokenizer.get_vocab()  # type: ignore[attr-defined]
    if not hasattr(vocab, "keys"):
        return None
    return frozenset(str(word).lower() for word in vocab.keys())


def _concatenate(runs: list[TextAttackRun]) -> dict[str, Any]:
    """The runs of all chunks as arrays (per-sentence lists for pieces and changes)."""
    return {"success": np.concatenate([r.success for r in runs]).astype(bool),
            "words_changed": np.concatenate([r.words_changed for r in runs]).astype(np.int64),
            "queries": np.concatenate([r.queries for r in runs]).astype(np.int64),
            "margin": np.concatenate([r.margin for r in runs]).astype(float),
            "proba": [p for r in runs for p in r.proba],
            "pieces": [p for r in runs for p in r.pieces],
            "changes": [c for r in runs for c in r.changes]}


def _kind(old: str, new: str) -> str:
    """Whether ``new`` replaced ``old`` as a synonym or as a typo."""
    return "synonym" if new.lower() in load_synonyms().get(old.lower(), ()) else "typo"


def _marked(pieces: list[str], changed: list[int]) -> str:
    """The sentence with each changed word in ``[[...]]``."""
    marks = set(changed)
    return "".join(f"[[{p}]]" if k in marks else p for k, p in enumerate(pieces))
