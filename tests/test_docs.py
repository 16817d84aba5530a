"""The documentation stays true: every name the API reference and the concept index list
exists, and docs/api.md is what docs/make_api.py generates from the code."""
import importlib
import os
import re
import runpy

import glassnet as gn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def _resolve(dotted):
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_every_name_in_the_api_reference_imports():
    text = open(os.path.join(DOCS, "api.md")).read()
    names = re.findall(r"^- `(glassnet[\w.]*)`", text, flags=re.M)
    assert len(names) > 200
    for name in names:
        _resolve(name)


def test_api_reference_is_current():
    render = runpy.run_path(os.path.join(DOCS, "make_api.py"))["render"]
    assert open(os.path.join(DOCS, "api.md")).read() == render(), "run: python docs/make_api.py"


def test_concept_index_names_exist():
    text = open(os.path.join(DOCS, "concepts.md")).read()
    prefixes = "nn|optim|data|classic|doctor|report|tune|callbacks|ensemble|gradcheck|functional|estimators"
    names = set(re.findall(rf"`((?:{prefixes})(?:\.\w+)+)", text))
    assert len(names) > 60
    for name in names:
        _resolve(f"glassnet.{name}")
    files = set(re.findall(r"\| ([\w/]+\.py)(?:, [\w/]+\.py)? \|", text))
    for f in files:
        assert os.path.exists(os.path.join(ROOT, "glassnet", f)), f


def test_docs_link_the_examples_that_exist():
    text = open(os.path.join(ROOT, "examples", "README.md")).read()
    for script in re.findall(r"`(\w+\.py)`", text):
        assert os.path.exists(os.path.join(ROOT, "examples", script)), script
    assert gn.__version__


def _python_blocks(path):
    with open(path, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_the_code_in_the_readme_and_getting_started_runs(tmp_path, monkeypatch):
    """The snippets a new user copies first run as written (with fewer epochs)."""
    import pytest
    pytest.importorskip("mnist1d")
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(os.path.join(ROOT, "README.md")) + _python_blocks(os.path.join(DOCS, "getting-started.md"))
    assert len(blocks) >= 2
    for code in blocks:
        code = re.sub(r"epochs=\d+", "epochs=2", code)
        exec(compile(code, "snippet", "exec"), {"__name__": "snippet"})
    assert (tmp_path / "model.npz").exists()
