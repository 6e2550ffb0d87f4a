"""Run an exported script in a fresh process, as a user would: build its model (loading the
weights beside it), and report what it built.

    python check_exported.py SCRIPT INPUTS.npz OUT_PREFIX [DATA.npz]

Writes OUT_PREFIX.json (config, parameter count, which modules got imported, training losses)
and OUT_PREFIX.npz (the outputs on the inputs x_0, x_1, ...).
"""
import importlib.util
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    script, inputs, prefix = sys.argv[1:4]
    data = sys.argv[4] if len(sys.argv) > 4 else None
    spec = importlib.util.spec_from_file_location("exported", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import keras
    import numpy as np
    weights = os.path.join(os.path.dirname(os.path.abspath(script)), module.WEIGHTS) \
        if module.WEIGHTS else None
    model = module.train(weights=weights)
    with np.load(inputs) as d:
        xs = [d[f"x_{i}"] for i in range(len(d.files))]
    outs = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    np.savez(prefix + ".npz", **{f"y_{i}": o for i, o in enumerate(outs)})
    report = {
        "config": json.loads(json.dumps(model.get_config(), default=list)),
        "params": model.count_params(),
        "project_modules": sorted(m for m in sys.modules
                                  if m.split(".")[0] in ("backends", "graph", "designer")),
        "loss": type(model.loss).__name__,
        "optimizer": type(model.optimizer).__name__,
    }
    if data:
        x, y, validation = module.load_data(data, len(model.inputs), len(model.outputs))
        trained = module.train("none", x, y, validation, epochs=1, weights=weights)
        report["trained_loss"] = float(trained.evaluate(x, y, verbose=0, return_dict=True)["loss"])
    with open(prefix + ".json", "w") as f:
        json.dump(report, f)
    print(keras.__version__)


if __name__ == "__main__":
    main()
