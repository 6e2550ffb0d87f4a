"""One worker of the multi-worker test: trains a small design under MultiWorkerMirroredStrategy
(TF_CONFIG comes from the parent) and writes its final weights and events.

    python multiworker_job.py GRAPH WEIGHTS_OUT EVENTS_OUT EPOCHS
"""
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

from netdesigner.backends import protocol  # noqa: E402
from netdesigner.backends.data import Rows  # noqa: E402
from netdesigner.backends.jobs import prepare  # noqa: E402
from netdesigner.graph import fileformat  # noqa: E402


def main():
    graph_file, weights_out, events_out, epochs = sys.argv[1:5]
    graph = fileformat.load(graph_file)
    graph.training["epochs"] = int(epochs)
    prepared = prepare(graph, os.path.dirname(os.path.abspath(graph_file)))
    flat, split = prepared.network, prepared.split
    read = [0]                  # training samples this worker read (a streamed data set)
    if isinstance(split.x_train, Rows):
        rows = split.x_train

        def counted(idx):
            read[0] += len(idx)
            return rows[idx]
        split.x_train = Rows(len(rows), rows.sample_shape, rows.dtype, counted)
    from netdesigner.backends.keras.train import evaluate, fit, predict
    recorder = protocol.Recorder()
    result = fit(flat, split, graph.training, on_event=recorder, strategy="multi-worker",
                 weights_out=weights_out, stats_every=10)
    # Keras's evaluate / predict fail under this strategy too: these go around them
    test = evaluate(result.model, split.x_test, split.y_test, graph.training, loop=result.loop)
    outputs = predict(result.model, split.x_test, loop=result.loop)
    y_test = np.asarray(split.y_test)            # streamed: read now
    truth = y_test.argmax(1) if y_test.ndim == 2 else y_test
    with open(events_out, "w") as f:
        json.dump({"events": [e for e in recorder.events if e["event"] != "layer_stats"],
                   "stats": len(recorder.of("layer_stats")), "reason": result.reason,
                   "device": result.device, "test": test, "read": read[0],
                   "n_train": len(split.x_train),
                   "predicted_accuracy": float((outputs.argmax(1) == truth).mean())}, f)


if __name__ == "__main__":
    main()
