"""Writes docs/config.md, the config reference, from glassnet/config.py (the one schema).

    python docs/make_config.py       # tests/test_config.py checks that docs/config.md is up to date
"""
import os

from glassnet.config import document

if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(document())
    print(f"wrote {path}")
