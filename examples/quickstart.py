"""ML engineer: audit a zoo model in three lines and open the report.

Run: python examples/quickstart.py  (writes quickstart_report.html)
"""

from auditkit import audit, zoo

model, data = zoo.load("adult-mlp")
result = audit(model, data)
result.save_html("quickstart_report.html")

print(result.summary()[["check", "status", "headline"]].to_string(index=False))
