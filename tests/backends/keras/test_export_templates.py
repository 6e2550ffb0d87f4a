"""The fixed part of exported scripts (`backends/export/templates/`) run as code, and how the
exporter copies it into scripts."""
from __future__ import annotations

import ast
import builtins
import inspect
import symtable

import numpy as np
import pytest

import keras
import tensorflow as tf

from netdesigner.backends.export import ExportError
from netdesigner.backends.export.codegen import (Names, docstring, render_value,
                                                 script_header, string_literal)
from netdesigner.backends.export.script import script_source
from netdesigner.backends.export.templates import (decoding_runtime, gan_runtime, quiet_start,
                                                   supervised_runtime)

from .conftest import load_sample, two_heads

TEMPLATES = (supervised_runtime, gan_runtime, decoding_runtime, quiet_start)


# -- the templates are self-contained ---------------------------------------------------------

def _global_names(table) -> set[str]:
    """Names a function (and the functions nested in it) reads from the module's scope."""
    names = {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    for child in table.get_children():
        names |= _global_names(child)
    return names


@pytest.mark.parametrize("module", TEMPLATES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_a_template_uses_only_its_imports_its_functions_and_the_generated_names(module):
    """What makes the copied code run in a script: every other name is missing there."""
    source = inspect.getsource(module)
    tree = ast.parse(source)
    imported = {(a.asname or a.name).split(".")[0] for n in tree.body
                if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert imported <= {"argparse", "os", "re", "sys", "tempfile", "numpy", "np", "tensorflow",
                        "tf", "keras"}, imported
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    allowed = imported | functions | set(module.GENERATED) | set(dir(builtins)) | {"__doc__",
                                                                                     "__file__"}
    table = symtable.symtable(source, module.__file__, "exec")
    used = set()
    for child in table.get_children():
        if child.get_name() in functions:
            used |= _global_names(child)
    assert used - allowed == set()
    # every generated name has a stand-in here, so the module imports and lints as it is
    assert all(hasattr(module, name) for name in module.GENERATED)


@pytest.mark.parametrize("design, module", [
    (lambda: load_sample("mlp_digits"), supervised_runtime),
    (two_heads, supervised_runtime),
    (lambda: load_sample("gan_moons"), gan_runtime)], ids=["mlp", "two_heads", "gan"])
def test_a_script_defines_every_generated_name_and_copies_the_template_as_written(design,
                                                                                  module):
    text = script_source(design(), weights_file="net.weights.h5", data_file="net.data.npz")
    tree = ast.parse(text)
    defined = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            defined |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
    assert set(module.GENERATED) <= defined
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.FunctionDef):
            assert inspect.getsource(getattr(module, node.name)) in text, node.name
    # the stand-ins stay behind: each generated name is defined once, by the generated part
    names = [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
             if isinstance(t, ast.Name)]
    assert len(names) == len(set(names)), names
    assert 'WEIGHTS = "net.weights.h5"' in text and 'DATA = "net.data.npz"' in text
    # TensorFlow is first imported with its start-up notes filtered (templates.quiet_start)
    for node in ast.parse(inspect.getsource(quiet_start)).body:
        if isinstance(node, ast.FunctionDef):
            assert inspect.getsource(getattr(quiet_start, node.name)) in text, node.name
    assert text.index("\nimport_tensorflow_quietly()\n") < text.index("\nimport tensorflow")
    assert text.rstrip().endswith('if __name__ == "__main__":\n    main()')


# -- supervised_runtime as code -----------------------------------------------------------------

def _linear_model():
    x = keras.Input(shape=(3,), name="x")
    y = keras.layers.Dense(1, name="out")(x)
    return keras.Model(inputs=x, outputs=y, name="linear")


def _make_loss(reduction="sum_over_batch_size"):
    return keras.losses.MeanSquaredError(reduction=reduction)


def _compile(model):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=_make_loss())
    return model


@pytest.fixture
def supervised(monkeypatch):
    """supervised_runtime bound to a linear model (as a script binds it to the design's)."""
    monkeypatch.setattr(supervised_runtime, "build_model", _linear_model)
    monkeypatch.setattr(supervised_runtime, "make_loss", _make_loss)
    monkeypatch.setattr(supervised_runtime, "compile_model", _compile)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
    return supervised_runtime, x, y


def _mse(model, x, y) -> float:
    return float(np.mean((np.asarray(model(x, training=False)) - y) ** 2))


def test_train_fits_and_loads_saved_weights(supervised, tmp_path):
    runtime, x, y = supervised
    keras.utils.set_random_seed(0)
    untrained = runtime.train()
    trained = runtime.train("none", x, y, None, epochs=30, batch_size=16)
    assert _mse(trained, x, y) < 0.1 * _mse(untrained, x, y)
    trained.save_weights(tmp_path / "w.weights.h5")
    again = runtime.train(weights=str(tmp_path / "w.weights.h5"))
    assert _mse(again, x, y) == pytest.approx(_mse(trained, x, y))


def test_the_custom_loop_trains_as_fit_does(supervised):
    """custom_train is the multi-worker path; under the default strategy it runs in process."""
    runtime, x, y = supervised
    keras.utils.set_random_seed(0)
    model = _compile(_linear_model())
    before = _mse(model, x, y)
    runtime.custom_train(tf.distribute.get_strategy(), model, x, y, epochs=30, batch_size=16)
    assert _mse(model, x, y) < 0.1 * before


def test_load_data_reads_one_or_several_arrays(tmp_path):
    one = tmp_path / "one.npz"
    np.savez(one, x_train=np.ones((4, 2)), y_train=np.zeros(4))
    x, y, validation = supervised_runtime.load_data(one, 1, 1)
    assert x.shape == (4, 2) and y.shape == (4,) and validation is None
    many = tmp_path / "many.npz"
    np.savez(many, x_train_0=np.ones((4, 2)), x_train_1=np.ones((4, 5)), y_train=np.zeros(4),
             x_val_0=np.ones((2, 2)), x_val_1=np.ones((2, 5)), y_val=np.zeros(2))
    x, y, (xv, yv) = supervised_runtime.load_data(many, 2, 1)
    assert [a.shape for a in x] == [(4, 2), (4, 5)] and [a.shape for a in xv] == [(2, 2),
                                                                                   (2, 5)]
    assert yv.shape == (2,)


def test_main_trains_on_the_data_and_saves_the_weights(supervised, tmp_path, capsys):
    runtime, x, y = supervised
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x, y_train=y, x_val=x[:8], y_val=y[:8])
    out = tmp_path / "out.weights.h5"
    runtime.main(["--data", str(data), "--epochs", "2", "--batch-size", "64", "--save",
                  str(out)])
    assert "val_loss" in capsys.readouterr().out and out.exists()
    runtime.main(["--summary", "--weights", str(out)])
    assert "Total params: 4" in capsys.readouterr().out


# -- gan_runtime as code -------------------------------------------------------------------------

def _tiny_gan(d_activation="sigmoid"):
    z = keras.Input(shape=(3,), name="noise")
    fake = keras.layers.Dense(2, name="g_out")(keras.layers.Dense(5, activation="tanh",
                                                                   name="g_hidden")(z))
    s = keras.Input(shape=(2,), name="sample")
    verdict = keras.layers.Dense(1, activation=d_activation, name="d_out")(
        keras.layers.Dense(4, activation="tanh", name="d_hidden")(s))
    generator = keras.Model(z, fake, name="generator")
    discriminator = keras.Model(s, verdict, name="discriminator")
    return generator, discriminator, keras.Model([z, s], [fake, verdict], name="gan")


def _bce(labels, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(-(labels * np.log(p) + (1 - labels) * np.log(1 - p))))


@pytest.mark.parametrize("d_activation", ["sigmoid", "linear"])
def test_make_step_trains_the_discriminator_then_the_generator(d_activation):
    keras.utils.set_random_seed(1)
    generator, discriminator, _ = _tiny_gan(d_activation)
    logits = d_activation == "linear"
    rng = np.random.default_rng(0)
    real = rng.normal(size=(8, 2)).astype("float32")
    zd, zg = (rng.normal(size=(8, 3)).astype("float32") for _ in range(2))

    def prob(model_out):
        out = np.asarray(model_out, np.float64)
        return 1 / (1 + np.exp(-out)) if logits else out

    # what the step should report, computed here from the weights before / between its halves
    fake = np.asarray(generator(zd))
    labels = np.concatenate([np.ones((8, 1)), np.zeros((8, 1))])
    p = prob(discriminator(np.concatenate([real, fake])))
    want_d_loss = _bce(labels, p)
    want_d_acc = float(np.mean((p > 0.5) == labels))
    g_before = [w.copy() for w in generator.get_weights()]

    step = gan_runtime.make_step(generator, discriminator, keras.optimizers.SGD(0.1),
                                 keras.optimizers.SGD(0.1), logits)
    d_weights = [w.copy() for w in discriminator.get_weights()]
    g_loss, d_loss, d_acc = (float(v) for v in step(real, zd, zg))
    assert d_loss == pytest.approx(want_d_loss, rel=1e-5)
    assert d_acc == pytest.approx(want_d_acc)
    assert any(not np.allclose(a, b) for a, b in zip(d_weights, discriminator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(g_before, generator.get_weights()))
    # the generator's loss: the updated discriminator on the generator's samples before its step
    g_then = keras.models.clone_model(generator)
    g_then.set_weights(g_before)
    p_fake = prob(discriminator(np.asarray(g_then(zg))))
    assert g_loss == pytest.approx(_bce(np.ones_like(p_fake), p_fake), rel=1e-5)


def test_each_optimizer_moves_only_its_network():
    keras.utils.set_random_seed(2)
    generator, discriminator, _ = _tiny_gan()
    rng = np.random.default_rng(3)
    real = rng.normal(size=(8, 2)).astype("float32")
    zd, zg = (rng.normal(size=(8, 3)).astype("float32") for _ in range(2))
    g_before, d_before = generator.get_weights(), discriminator.get_weights()
    # a still generator optimizer: the generator half must not touch the discriminator either
    step = gan_runtime.make_step(generator, discriminator, keras.optimizers.SGD(0.0),
                                 keras.optimizers.SGD(0.1), False)
    step(real, zd, zg)
    assert all(np.array_equal(a, b) for a, b in zip(g_before, generator.get_weights()))
    d_after = discriminator.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(d_before, d_after))
    step = gan_runtime.make_step(generator, discriminator, keras.optimizers.SGD(0.1),
                                 keras.optimizers.SGD(0.0), False)
    step(real, zd, zg)
    assert all(np.array_equal(a, b) for a, b in zip(d_after, discriminator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(g_before, generator.get_weights()))


def test_the_keras_backend_trains_with_the_template_step():
    from netdesigner.backends.keras.gan import KerasGan, make_step
    generator, discriminator, _ = _tiny_gan()
    step = make_step(KerasGan(generator, discriminator, False), {"optimizer": "sgd"})
    assert step.python_function.__module__ == gan_runtime.__name__
    assert step.python_function.__qualname__ == "make_step.<locals>.step"


@pytest.fixture
def gan(monkeypatch):
    """gan_runtime bound to a tiny GAN (as a script binds it to the design's)."""
    monkeypatch.setattr(gan_runtime, "build_models", _tiny_gan)
    monkeypatch.setattr(gan_runtime, "make_optimizer", lambda: keras.optimizers.Adam(0.01))
    monkeypatch.setattr(gan_runtime, "NOISE_SHAPE", (3,))
    monkeypatch.setattr(gan_runtime, "LOGITS", False)
    x = np.random.default_rng(4).normal(size=(40, 2)).astype("float32") + 3.0
    return gan_runtime, x


def test_gan_train_is_seeded_and_reports_every_epoch(gan, capsys):
    runtime, x = gan
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        generator, _, _ = runtime.train(x, epochs=2, batch_size=16)
        runs.append(capsys.readouterr().out)
    lines = runs[0].splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "d_accuracy" in lines[0] and runs[0] == runs[1]


def test_gan_main_trains_samples_and_saves(gan, tmp_path, capsys):
    runtime, x = gan
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x)
    out = tmp_path / "gan.weights.h5"
    runtime.main(["--data", str(data), "--epochs", "1", "--samples", "3", "--save", str(out)])
    printed = capsys.readouterr().out
    assert "epoch 1/1" in printed and out.exists()
    generator, _, both = runtime.train(weights=str(out))
    assert both.count_params() == sum(int(np.prod(w.shape)) for w in both.get_weights())
    noise = np.random.default_rng(runtime.SEED + 1).standard_normal((3, 3)).astype("float32")
    assert np.allclose(np.asarray(generator(noise)), np.asarray(_saved_samples(printed)),
                       atol=1e-3)


def _saved_samples(printed: str):
    """The --samples array main printed (numpy's repr of a 3x2 array)."""
    text = printed[printed.index("[["):printed.rindex("]]") + 2]
    return [[float(v) for v in row.strip(" []").split()] for row in text.split("\n")]


# -- code writing ----------------------------------------------------------------------------------

NASTY = ['plain', 'it\'s', 'say "hi"', 'both \' and "', 'back\\slash', 'new\nline', '"""',
         "'''", 'x"""; import os; os.system("echo pwned"); """', '\r\x00\t', 'ünïcode']


@pytest.mark.parametrize("text", NASTY)
def test_strings_are_written_as_literals_of_the_same_value(text):
    assert ast.literal_eval(string_literal(text)) == text
    assert ast.literal_eval(render_value([text, (text,)])) == [text, (text,)]
    assert ast.literal_eval(docstring(text)) == text


def test_plain_strings_keep_double_quotes():
    assert string_literal("relu") == '"relu"' and string_literal("it's") == '"it\'s"'


def test_a_title_cannot_inject_code_into_the_script():
    g = load_sample("mlp_digits")
    g.metadata["title"] = 'Evil"""\nimport shutil; shutil.rmtree("/")\n"""'
    g.metadata["description"] = 'ends with a quote "'
    text = script_source(g, source_name='x""".graph')
    tree = ast.parse(text)
    assert ast.get_docstring(tree, clean=False).startswith(
        g.metadata["title"] + ' - exported by netdesigner from x""".graph.')
    assert "shutil" not in {n.names[0].name for n in tree.body if isinstance(n, ast.Import)}
    header = script_header("t", "", "", "usage\n")
    assert ast.literal_eval(header) == "t.\nusage\n"


def test_names_are_identifiers_that_shadow_nothing_the_script_uses():
    names = Names()
    got = [names.get("1st", 0), names.get("a-b", 0), names.get("train", 0), names.get("np", 0),
           names.get("dense", 1), names.get("dense_1", 0)]
    assert all(n.isidentifier() for n in got)
    assert got[:4] == ["t_1st", "a_b", "train_", "np_"]
    assert got[4] != got[5]
    for module in TEMPLATES:
        assert not set(got) & set(module.GENERATED)


def test_a_config_key_that_is_not_a_name_is_refused():
    with pytest.raises(ExportError, match="as a Python name"):
        render_value({"class_name": "L2", "module": "keras.regularizers",
                      "config": {"l2); import os; (x": 0.1}})


def test_a_hinge_design_gets_the_sign_accuracy_metric_copied_in():
    from netdesigner.backends.keras.compiler import sign_accuracy
    g = load_sample("perceptron_and")
    g.training["loss"] = "hinge"
    text = script_source(g)
    assert inspect.getsource(sign_accuracy) in text
    namespace = {"__name__": "exported"}          # not __main__: define, do not run main()
    exec(compile(text, "perceptron_and.py", "exec"), namespace)
    model = namespace["train"]()
    assert type(model.loss).__name__ == "Hinge"
    x, y = np.array([[0, 0], [1, 1]], "float32"), np.array([[-1], [1]], "float32")
    model.fit(x, y, epochs=1, verbose=0)
    scores = model.evaluate(x, y, verbose=0, return_dict=True)
    assert 0 <= scores["accuracy"] <= 1, scores
