"""The export's one error (its own module: the code writers raise it and the package's entry
points import the code writers, so it cannot live in the package's __init__)."""


class ExportError(ValueError):
    """An export that cannot be done; the message says why."""
