"""Mode "vae": an autoencoder whose code is sampled (a `Sampling` layer adds the KL term);
after training, the decoder's pictures of new codes go to the Generated tab."""
from __future__ import annotations

import numpy as np

from netdesigner.graph.expand import expand_blocks

from .. import protocol
from ..evaluation import picture_shape
from ..vae_samples import GRID_SIDE, code_size, decode
from .autoencoder import Autoencoder


class Vae(Autoencoder):
    name = "vae"

    def problem(self, graph, settings: dict) -> str:
        problem = super().problem(graph, settings)
        if problem:
            return problem
        flat = expand_blocks(graph)
        if not any(flat.node(n).type == "Sampling" for n in flat.nodes()):
            return ("the vae mode needs a Sampling layer: the encoder ends in two Dense layers "
                    "(mean and log-variance) that feed a Sampling layer, whose output is the "
                    "code the decoder reads")
        return ""

    def after_fit(self, backend: str, result, prepared) -> list[dict]:
        return [generated_event(backend, result, prepared.network, prepared.split)]


def generated_event(backend: str, result, flat, split) -> dict:
    """What the trained decoder makes of new codes (the Generated tab), shaped like the data
    set's samples (8x8 images for digits, also when the network reads 64 values)."""
    latent = code_size(flat)
    samples = np.asarray(decode(backend, result.model, flat, latent=latent))
    shape = picture_shape(split.dataset.sample_shape, int(np.prod(samples.shape[1:])))
    if shape:
        samples = samples.reshape((len(samples),) + shape)
    event = protocol.generated(result.steps, max(0, result.epochs_run - 1), samples)
    latent_grid = len(samples) == GRID_SIDE * GRID_SIDE and latent == 2
    event["columns"] = GRID_SIDE if latent_grid else None
    event["caption"] = (
        "What the trained decoder makes of new codes: a grid over the 2-D code space from "
        "(-2, 2) at the top left to (2, -2) at the bottom right. Neighbouring codes give "
        "similar samples." if latent_grid else
        f"What the trained decoder makes of {len(samples)} random codes drawn from N(0, 1).")
    return event


MODE = Vae()
