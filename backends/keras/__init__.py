"""The Keras backend: a design compiled to a `keras.Model`, trained, exported and imported.

    layers     one builder per catalog layer type (`build_layer`, `call_layer`)
    compiler   `compile_graph(graph)`: the functional model (layers named after the nodes) with
               the design's loss, optimizer and metrics
    train      `fit(graph, split, settings, on_event=..., should_stop=...)`: model.fit with a
               callback streaming `backends.protocol` events (custom loop under multi-worker)
    stats      per-layer activation / gradient / weight statistics from a probe batch
    devices    device choice (auto | cpu | gpu[:N]), tf.distribute strategies (none | mirrored |
               multi-worker), mixed precision
    loop       the custom tf.distribute training loop
    weights    `.npz` weights interchangeable with the NumPy backend's
    importer   a Keras model (or `.keras` file) as a design

Nothing here is imported by `graph/` or by `netdesigner validate`: TensorFlow loads only when a
Keras feature is used.
"""
