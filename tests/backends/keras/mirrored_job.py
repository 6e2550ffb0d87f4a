"""The mirrored-strategy check: two logical CPUs as two replicas, against one device.

    python mirrored_job.py GRAPH EVENTS_OUT EPOCHS
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))


def main():
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    from netdesigner.backends import protocol
    from netdesigner.backends.keras.train import fit
    from netdesigner.backends.jobs import prepare
    from netdesigner.graph import fileformat
    graph_file, events_out, epochs = sys.argv[1:4]
    graph = fileformat.load(graph_file)
    graph.training["epochs"] = int(epochs)
    prepared = prepare(graph, os.path.dirname(os.path.abspath(graph_file)))
    flat, split = prepared.network, prepared.split
    out = {}
    for name, options in (("none", {}),
                          ("mirrored", {"strategy": "mirrored",
                                        "devices": ["/cpu:0", "/cpu:1"]})):
        recorder = protocol.Recorder()
        fit(flat, split, graph.training, on_event=recorder, stats_every=10, **options)
        out[name] = {"device": recorder.events[0]["device"],
                     "epochs": recorder.of("epoch"), "stats": len(recorder.of("layer_stats")),
                     "reason": recorder.end["reason"]}
    with open(events_out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
