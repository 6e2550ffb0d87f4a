"""How the project's modules import each other: only under the `netdesigner` name, without
loops, and without taking another module's private (`_underscored`) names."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

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


#: installed package name -> source folder
PACKAGES = {"netdesigner": "netdesigner", "netdesigner.graph": "graph",
            "netdesigner.backends": "backends", "netdesigner.designer": "designer"}


def project_modules() -> dict:
    """{dotted module name: path} of every module that installs under netdesigner."""
    out = {}
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if package == "netdesigner" and path.parent != ROOT / folder:
                continue
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def imported_names(module: str, path: Path) -> list[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for every import statement of a
    module, those inside functions included; relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            out += [(source, a.name) for a in node.names]
    return out


def import_graph():
    """The project's import graph, and the private names taken across modules."""
    modules = project_modules()
    graph, private = nx.DiGraph(), []
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for source, name in imported_names(module, path):
            if name is not None and f"{source}.{name}" in modules:     # a submodule
                graph.add_edge(module, f"{source}.{name}")
            elif source in modules:
                graph.add_edge(module, source)
                if name is not None and name.startswith("_") and source != module:
                    private.append(f"{module} takes {name} from {source}")
    return graph, private


def test_no_module_imports_a_module_that_imports_it_back():
    """Directly or through others, imports inside functions included (a package and its own
    __init__ re-exports are no loop: the package imports its submodules, not back)."""
    graph, _ = import_graph()
    loops = [" -> ".join(c + c[:1]) for c in nx.simple_cycles(graph)]
    assert not loops, "import loops:\n" + "\n".join(sorted(loops)[:20])


def test_no_module_imports_a_private_name_of_another():
    _, private = import_graph()
    assert not private, "\n".join(private)


def test_the_import_check_sees_loops_and_private_names(tmp_path, monkeypatch):
    """The checks above can fail: a fake package with a loop through a function-level import
    and a private name taken."""
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "__init__.py").write_text("")
    (tmp_path / "graph" / "a.py").write_text("def f():\n    from .b import _hidden\n")
    (tmp_path / "graph" / "b.py").write_text("from netdesigner.graph import a\n_hidden = 1\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    for folder in ("netdesigner", "backends", "designer"):
        (tmp_path / folder).mkdir()
    graph, private = import_graph()
    assert list(nx.simple_cycles(graph)) and private == [
        "netdesigner.graph.a takes _hidden from netdesigner.graph.b"]


def test_every_package_is_in_the_wheel():
    """pyproject.toml lists the packages (the package-dir mapping needs them named): a package
    left out would be missing from an installed (non-editable) netdesigner."""
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    packages = {name for name, path in project_modules().items() if path.name == "__init__.py"}
    assert packages == listed, (sorted(packages - listed), sorted(listed - packages))
