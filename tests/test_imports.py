"""How the project's modules import each other: only under the `netdesigner` name."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("netdesigner", "graph", "backends", "designer", "tests", "bench", "samples")
OLD_NAMES = {"graph", "backends", "designer"}


def python_files():
    for folder in SOURCE_FOLDERS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def absolute_imports(tree) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a module, inside functions too."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
    return out


def test_no_module_imports_a_source_folder_by_its_bare_name():
    """`graph`, `backends` and `designer` install as netdesigner.graph, ...: a bare `import
    graph` would load a second copy from the checkout, or another distribution's package."""
    wrong = [f"{path.relative_to(ROOT)}:{line}: {module}"
             for path in python_files()
             for line, module in absolute_imports(ast.parse(path.read_text(), str(path)))
             if module.split(".")[0] in OLD_NAMES]
    assert not wrong, "\n".join(wrong)
