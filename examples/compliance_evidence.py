"""Compliance team: judge a model against your own policy and file the evidence.

The thresholds come from strict_policy.yaml (beside this script), which
extends auditkit's defaults. The same numbers get a stricter verdict; the
HTML, JSON and PDF are the evidence, and the JSON re-renders later with
'auditkit report'.

Run: python examples/compliance_evidence.py
"""

from pathlib import Path

from auditkit import Policy, audit, zoo

policy = Policy.from_yaml(Path(__file__).with_name("strict_policy.yaml"))
model, data = zoo.load("adult-mlp")

default_verdict = audit(model, data, preset="performance").status
result = audit(model, data, preset="performance", policy=policy)
print(f"Default policy verdict: {default_verdict.value}; {policy.name}: {result.status.value}")

for path in (result.save_html("evidence.html"), result.save_json("evidence.json"),
             result.save_pdf("evidence.pdf")):
    print("wrote", path)
