"""Sampling, the reparameterisation trick of a variational autoencoder.

z = mean + exp(log_var / 2) * eps with eps drawn from N(0, 1). The randomness sits in eps, which
does not depend on the weights, so gradients flow to mean and log_var:
    dz/dmean = 1,  dz/dlog_var = exp(log_var / 2) * eps / 2.
It samples in training and at inference alike, as the Keras VAE example does.
"""
from __future__ import annotations

import numpy as np

from ..registry import register


@register("Sampling", random=True)
class Sampling:
    def forward(xs, weights, params, training, rng=None):
        mean, log_var = xs
        eps = np.random.default_rng(rng).standard_normal(mean.shape).astype(mean.dtype)
        std = np.exp(0.5 * log_var)
        return mean + std * eps, (std, eps)

    def backward(dz, cache):
        std, eps = cache
        return [dz, dz * std * eps * 0.5], {}
