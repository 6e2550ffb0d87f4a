"""Helpers that write Python source, shared by the exported scripts (`script`, `gan_script`).

* values and statements: `render_value`, `statement`, `paragraph`, `docstring`;
* `Names`: variable names for the tensors of a design;
* the fixed part of a script: `template_imports` and `template_functions` copy a module of
  `templates/` (its import block, then its functions, as written) into a script.

Everything that comes from a file (node ids, titles, descriptions, file names) enters the
written code as a literal made by `repr`, or as an identifier checked to be one.
"""
from __future__ import annotations

import ast
import inspect
import keyword
import re
import types

from .errors import ExportError
from .templates import decoding_runtime, gan_runtime, quiet_start, supervised_runtime

TEMPLATES = (supervised_runtime, gan_runtime, decoding_runtime)


# -- values ---------------------------------------------------------------------------------------

def render_value(value) -> str:
    """Python source for a config value (serialized Keras objects become constructor calls)."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        module = value.get("module") or "keras"
        if not module.startswith("keras"):
            raise ExportError(f"cannot write {value['class_name']} ({module}) as code")
        module = re.sub(r"\.src(\.[a-z_]+)*$", "", module) if ".src" in module else module
        cls = value["class_name"]
        for part in (*module.split("."), cls):
            identifier(part)
        config = value["config"] or {}
        if isinstance(config, dict):
            args = ", ".join(f"{identifier(k)}={render_value(v)}" for k, v in config.items())
        else:
            args = render_value(config)
        return f"{module}.{cls}({args})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_value(k)}: {render_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(render_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, str):
        return string_literal(value)
    return repr(value)


def string_literal(text: str) -> str:
    """`repr(text)`, in double quotes when that needs no escaping (as the rest of the code)."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        # repr chose single quotes, so `text` holds no quote of either kind: swapping the
        # delimiters keeps the escapes repr wrote and the value
        literal = '"' + literal[1:-1] + '"'
    return literal


def identifier(name) -> str:
    """`name`, refused unless it is a Python identifier (so it can be written as code)."""
    if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
        raise ExportError(f"cannot write {name!r} as a Python name")
    return name


def statement(target: str, path: str, args: list[str], call: str, indent: int = 4,
              width: int = 99) -> str:
    """`target = path(args)call`, on one line when it fits, else with the arguments packed on
    indented lines:

        conv2d_1 = keras.layers.Conv2D(
            filters=16, kernel_size=(3, 3), padding="same", name="conv2d_1"
        )(input_1)
    """
    pad = " " * indent
    line = f"{pad}{target} = {path}({', '.join(args)}){call}"
    if len(line) <= width:
        return line
    inner = pad + "    "
    rows, current = [], ""
    for a in args:
        piece = a + ","
        if current and len(inner) + len(current) + 1 + len(piece) > width:
            rows.append(inner + current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        rows.append(inner + current)
    return f"{pad}{target} = {path}(\n" + "\n".join(rows) + f"\n{pad}){call}"


def paragraph(text: str, width: int = 95) -> str:
    """The words of `text` wrapped at `width` characters."""
    words, lines, current = text.split(), [], ""
    for w in words:
        if current and len(current) + 1 + len(w) > width:
            lines.append(current)
            current = w
        else:
            current = f"{current} {w}" if current else w
    if current:
        lines.append(current)
    return "\n".join(lines)


def docstring(text: str) -> str:
    """A triple-quoted literal whose value is `text`, readable as it is: backslashes and control
    characters are escaped, and quotes too when they could end the string early, so no title or
    description can. Checked by parsing it back."""
    body = text.replace("\\", "\\\\")
    if '"""' in body or body.endswith('"'):      # would end the string early: escape quotes
        body = body.replace('"', '\\"')
    # control characters other than newlines as escapes (a raw \r would become a newline)
    body = "".join(c if c == "\n" or c >= " " else f"\\x{ord(c):02x}" for c in body)
    literal = f'"""{body}"""'
    if ast.literal_eval(literal) != text:          # a bug here, never the user's text
        raise ExportError("the script's docstring could not be written")
    return literal


def script_header(title: str, source_name: str, description: str, usage: str) -> str:
    """The module docstring of a script: title (and where it came from), the design's
    description, how to run it."""
    text = title + (f" - exported by netdesigner from {source_name}" if source_name else "")
    text += ".\n"
    if description:
        text += "\n" + paragraph(description) + "\n"
    return docstring(text + usage) + "\n"


def constants(values: dict) -> str:
    """`NAME = value` lines (values rendered with `render_value`)."""
    return "\n".join(f"{name} = {render_value(value)}" for name, value in values.items())


# -- names ----------------------------------------------------------------------------------------

def _template_names() -> set[str]:
    """Every module-level name the copied templates use or define (their functions, imports and
    generated names): a tensor variable must not shadow one."""
    names = set()
    for module in TEMPLATES:
        for node in ast.parse(inspect.getsource(module)).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        names |= set(module.GENERATED)
    return names


RESERVED = (set(keyword.kwlist) | _template_names()
            | {"model", "inputs", "outputs", "generator", "discriminator", "both",
               "Sampling", "RBF", "PositionEmbedding", "sign_accuracy", "sys", "Path", "json", "print", "input",
               "list", "dict", "type", "len"})


class Names:
    """Python variable names for the tensors: the node id, `<node>_<port>` for extra ports."""

    def __init__(self):
        self.taken: set[str] = set(RESERVED)
        self.of: dict = {}

    def get(self, node: str, port: int) -> str:
        key = (node, port)
        if key not in self.of:
            base = node if port == 0 else f"{node}_{port}"
            if not base.isidentifier():
                base = re.sub(r"\W", "_", base)
                if not base.isidentifier():          # empty, or starts with a digit
                    base = "t_" + base
            while base in self.taken:
                base += "_"
            self.taken.add(base)
            self.of[key] = base
        return self.of[key]


# -- the fixed part: templates/ -------------------------------------------------------------------

def template_imports(module: types.ModuleType) -> str:
    """The import block of a template module, as written (every script starts with it)."""
    source = inspect.getsource(module)
    imports = [n for n in ast.parse(source).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    lines = source.splitlines()
    return "\n".join(lines[imports[0].lineno - 1:imports[-1].end_lineno]) + "\n"


def template_functions(module: types.ModuleType) -> str:
    """Every function of a template module, in the order written, as written (the module's
    assignments are the stand-ins of the generated names, and stay behind)."""
    names = [n.name for n in ast.parse(inspect.getsource(module)).body
             if isinstance(n, ast.FunctionDef)]
    return "\n\n".join(inspect.getsource(getattr(module, name)).rstrip("\n") + "\n"
                       for name in names)


def quiet_start_source() -> str:
    """What a script runs before its own imports: TensorFlow and Keras imported with their
    start-up notes off the terminal (`templates.quiet_start`; TF_CPP_MIN_LOG_LEVEL=0 shows
    them)."""
    return (template_imports(quiet_start) + "\n\n" + template_functions(quiet_start)
            + "\n\n# TensorFlow's start-up notes off the terminal (TF_CPP_MIN_LOG_LEVEL=0 shows "
              "them)\nimport_tensorflow_quietly()\n")


MAIN_GUARD = '\n\nif __name__ == "__main__":\n    main()\n'
