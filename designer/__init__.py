"""The designer: the PySide6 GUI and the `netdesigner` command line, two front ends over `graph/`."""
