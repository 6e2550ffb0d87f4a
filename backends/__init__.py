"""Backends that compile a graph into something that runs: numpy (reference) and keras."""
