"""Stage 6 — report: how analyses are shown (table, json, concise, github, sarif)."""
