"""The Keras backend: per-layer builders (`layers`) and, later, the graph compiler."""
