"""ML engineer: before releasing a GAN's samples, check that it does not copy its training images.

Audits the zoo's mnist-gan and mnist-gan-memorizing (the same DCGAN trained on
32 images until it reproduces them) with the ``generative`` preset: fidelity
with its floor and ceilings, mode coverage, memorisation (near-copies, the
data-copying test C_T, authenticity, the closest generated-to-training
pairs) and membership inference against the generator. Writes a report per
model and a comparison page, and prints the verdicts side by side.

Run: python examples/generative_memorisation.py [OUTPUT_DIR]
(about a minute per model on a laptop CPU). With AUDITKIT_EXAMPLE_BUDGET=small
(the examples' test), the ``quick`` preset's smaller samples.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

from auditkit import audit, list_checks, zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="generative-memorisation")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    small = os.environ.get("AUDITKIT_EXAMPLE_BUDGET") == "small"

    audits, results = [], {}
    for name in ("mnist-gan", "mnist-gan-memorizing"):
        model, data = zoo.load(name)
        # The quick preset has every family; only the generative checks apply to a GAN.
        result = audit(model, data, preset="quick" if small else "generative",
                       title=f"Generative audit of {name}")
        result.save_html(out / f"{name}.html")
        result.save_json(out / f"{name}.json")
        audits.append(result)
        results[name] = {r.name: r for r in result.results}
    audits[0].save_comparison_html(out / "comparison.html", *audits[1:],
                                   names=list(results))

    print(f"{'check':26s}" + "".join(f"{name:>24s}" for name in results))
    for check in list_checks("generative"):
        print(f"{check:26s}" + "".join(f"{results[name][check].status.value:>24s}"
                                        for name in results))
    copies = results["mnist-gan-memorizing"]["generative_memorisation"]
    print(textwrap.fill(f"mnist-gan-memorizing: {copies.headline}", width=100,
                        initial_indent="\n", subsequent_indent="  "))
    print(f"Reports in {out}/")


if __name__ == "__main__":
    main()
