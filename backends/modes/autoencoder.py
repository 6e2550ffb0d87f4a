"""Mode "autoencoder": the target of every sample is the sample itself (`backends.data` builds
the targets; `input_noise` makes it a denoising autoencoder)."""
from __future__ import annotations

from .base import Mode

RECONSTRUCTION_LOSSES = ("mse", "mae", "huber", "binary_crossentropy")


class Autoencoder(Mode):
    name = "autoencoder"

    def problem(self, graph, settings: dict) -> str:
        if settings.get("loss") not in RECONSTRUCTION_LOSSES:
            return (f"the {self.name} mode compares each output with its input, value by "
                    f"value: choose the loss mse, mae or huber (or binary_crossentropy for "
                    f"values in [0, 1]), not {settings.get('loss')}")
        return ""


MODE = Autoencoder()
