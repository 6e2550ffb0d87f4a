"""Issue 12's acceptance test for export: projects whose title, description, file name and node
ids carry quotes, triple quotes, backslashes, newlines and `__import__` calls export to scripts
that compile, keep the text as written, run (one epoch on the data written beside them), and
create nothing.

Node ids are identifiers (graph/model.py NODE_ID), so the hostile ids here are names the
script itself uses (`os`, `__import__`, `exec`); an id ending in a newline is refused by the
loader (tests/graph) and is not exported here.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netdesigner.backends.export import export
from netdesigner.backends.jobs import prepare
from netdesigner.graph import fileformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
HOSTILE = HERE.parent / "fixtures" / "hostile"
FIXTURES = ["evil_title", "evil_description", "backslash_title", "backslash_N_title"]
MARKER = "PWNED_MARKER"
RUN = f'__import__("os").system("touch {MARKER}")'
TITLE = f'a """ b \'\'\' c \\N{{BULLET}} C:\\Users\\x\nline 2 """; {RUN}; """\\'
DESCRIPTION = f"x'''; {RUN}; '''\r\n\"\"\"\n{RUN}\n\\"


def composite_project(folder: Path) -> Path:
    """Every hostile string at once, and node ids that are names the script uses."""
    text = (ROOT / "samples" / "mlp_digits.graph").read_text()
    for old, new in (("input_1", "exec"), ("dense_1", "__import__"), ("dense_2", "os")):
        text = text.replace(f'"{old}"', f'"{new}"')
    graph = fileformat.loads(text, "mlp_digits.graph")
    graph.metadata["title"] = TITLE
    graph.metadata["description"] = DESCRIPTION
    path = folder / 'evil"""\\N\'.graph'
    fileformat.save(graph, path)
    return path


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def test_exported_scripts_compile_keep_the_text_run_and_create_nothing(tmp_path):
    projects = [HOSTILE / f"{name}.graph" for name in FIXTURES]
    projects.append(composite_project(tmp_path))
    pairs, expected = [], {}
    for i, project in enumerate(projects):
        graph = fileformat.load(project)
        if project.parent == tmp_path:
            assert set(graph.nodes()) == {"exec", "__import__", "os"}
        out_dir = tmp_path / f"script_{i}"
        out_dir.mkdir()
        split = prepare(graph, str(ROOT / "samples")).split   # what `--with-data` writes
        written = export(graph, "py", out_dir / "net.py", source_name=project.name, split=split)
        assert [p.name for p in written] == ["net.py", "net.data.npz"]
        source = (out_dir / "net.py").read_text()
        tree = ast.parse(source, filename=str(project))      # a SyntaxError fails here
        compile(source, str(project), "exec")
        docstring = ast.get_docstring(tree, clean=False)
        title, description = graph.metadata["title"], graph.metadata["description"]
        assert docstring.startswith(f"{title} - exported by netdesigner from {project.name}."), \
            f"{project.name}: the title reached the script changed: {docstring[:200]!r}"
        assert " ".join(description.split()) in " ".join(docstring.split()), \
            f"{project.name}: the description reached the script changed"
        # only the script's own imports run at import time: nothing from the project
        imports = {a.name for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                   for a in n.names}
        assert imports <= {"argparse", "os", "re", "sys", "tempfile", "numpy", "tensorflow",
                           "keras"}, imports
        cwd = tmp_path / f"cwd_{i}"
        cwd.mkdir()
        pairs += [str(out_dir / "net.py"), str(cwd)]
        expected[i] = (out_dir, cwd, files_under(out_dir))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, str(HERE / "run_exported.py"), *pairs, "--",
                           "--epochs", "1"], env=env, cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("ran ") == len(projects), done.stdout[-2000:]
    # every script trained: Keras ends each epoch's progress line with the validation loss
    assert done.stdout.count("val_loss") == len(projects), done.stdout[-2000:]
    for i, (out_dir, cwd, before) in expected.items():
        assert files_under(cwd) == set(), \
            f"{projects[i].name}: its script created {files_under(cwd)}"
        assert files_under(out_dir) == before, \
            f"{projects[i].name}: its script wrote beside itself: {files_under(out_dir) - before}"
    assert not list(tmp_path.rglob(f"*{MARKER}*")) and not (ROOT / MARKER).exists(), \
        "an exported script ran the project's text as code"


@pytest.mark.parametrize("name", FIXTURES)
def test_the_hostile_fixtures_are_the_issue_s(name):
    """The fixtures keep carrying what they test (a clean-up must not defuse them)."""
    metadata = fileformat.load(HOSTILE / f"{name}.graph").metadata
    text = metadata["title"] + metadata["description"]
    assert ("\\" in text) if name.startswith("backslash") else (MARKER in text and '"""' in text)
