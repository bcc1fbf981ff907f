"""From findings to Stash: a pure per-scene plan (plan.py) and the one writer (apply.py)."""
