"""Sampling, the reparameterisation trick of a variational autoencoder.

z = mean + exp(log_var / 2) * eps with eps drawn from N(0, 1). The randomness sits in eps, which
does not depend on the weights, so gradients flow to mean and log_var:
    dz/dmean = 1,  dz/dlog_var = exp(log_var / 2) * eps / 2.
It samples in training; at inference it returns the mean (the most likely code), so a trained
VAE reconstructs the same input the same way every time and both backends agree exactly.

The layer also adds the VAE's KL term to the loss: the divergence of N(mean, exp(log_var)) from
N(0, 1), summed over the code and averaged over the batch, times `kl_weight`:
    KL = -1/2 * sum(1 + log_var - mean^2 - exp(log_var)),
    dKL/dmean = mean,  dKL/dlog_var = (exp(log_var) - 1) / 2.
"""
from __future__ import annotations

import numpy as np

from ..registry import register


@register("Sampling", random=True)
class Sampling:
    def forward(xs, weights, params, training, rng=None):
        mean, log_var = xs
        std = np.exp(0.5 * log_var)
        if not training:
            return mean, (std, np.zeros_like(mean), mean, log_var)
        eps = np.random.default_rng(rng).standard_normal(mean.shape).astype(mean.dtype)
        return mean + std * eps, (std, eps, mean, log_var)

    def backward(dz, cache):
        std, eps = cache[:2]
        return [dz, dz * std * eps * 0.5], {}

    def added_loss(cache, params):
        std, _, mean, log_var = cache
        weight = params.get("kl_weight", 1.0)
        if not weight:
            return 0.0, None
        var = std * std
        scale = weight / len(mean)
        kl = -0.5 * float(np.sum(1 + log_var - mean * mean - var, dtype=np.float64))
        return kl * scale, [mean * scale, (var - 1) * (0.5 * scale)]
