"""Where a Keras run computes: device choice, tf.distribute strategies, mixed precision.

    ctx = setup(device="auto", strategy="none", mixed_precision=False)
    with ctx.scope():
        model = compile_graph(...)          # variables on the chosen device(s)
    ctx.description                         # "GPU:0 (NVIDIA H100 80GB HBM3)", "CPU", ...

Devices: "auto" (the first GPU TensorFlow sees, else the CPU), "cpu", "gpu" or "gpu:N".
Strategies:
    none          one device, no tf.distribute (Keras's default strategy)
    mirrored      MirroredStrategy: one replica per GPU of this machine (the CPU when there is
                  none); `devices=[...]` picks them
    multi-worker  MultiWorkerMirroredStrategy over the cluster described by TF_CONFIG (every
                  worker runs the same program). It must be created before TensorFlow runs
                  anything else in the process.
Mixed precision: True picks "mixed_float16" on a GPU and "mixed_bfloat16" on a CPU; a policy
name may be given instead.
"""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field

STRATEGIES = ("none", "mirrored", "multi-worker")
DEVICES_HELP = "auto | cpu | gpu | gpu:N"


class DeviceError(ValueError):
    """A device or strategy that cannot be used here; the message says why."""


def _tf():
    import tensorflow as tf
    return tf


def gpus() -> list:
    return _tf().config.list_physical_devices("GPU")


def gpu_name(index: int) -> str:
    """"GPU:0 (NVIDIA H100 80GB HBM3)" (the model name when TensorFlow knows it)."""
    tf = _tf()
    found = gpus()
    name = ""
    if index < len(found):
        try:
            name = tf.config.experimental.get_device_details(found[index]).get("device_name", "")
        except Exception:        # details are optional
            name = ""
    return f"GPU:{index}" + (f" ({name})" if name else "")


def resolve_device(device: str | None) -> tuple[str | None, str, bool]:
    """(TensorFlow device string or None for automatic placement, description, on a GPU?)"""
    kind = (device or "auto").strip().lower()
    found = gpus()
    if kind in ("auto", ""):
        if found:
            return None, gpu_name(0), True
        return None, "CPU", False
    if kind == "cpu":
        return "/CPU:0", "CPU", False
    if kind in ("gpu", "cuda") or kind.startswith(("gpu:", "cuda:")):
        index = int(kind.split(":", 1)[1]) if ":" in kind else 0
        if not found:
            raise DeviceError("no GPU is visible to TensorFlow here: train on the CPU "
                              "(--device cpu or auto)")
        if index >= len(found):
            raise DeviceError(f"there is no GPU:{index}: TensorFlow sees {len(found)} GPU(s)")
        return f"/GPU:{index}", gpu_name(index), True
    raise DeviceError(f"unknown device {device!r}: use {DEVICES_HELP}")


def mixed_policy(mixed_precision, on_gpu: bool) -> str | None:
    if not mixed_precision:
        return None
    if isinstance(mixed_precision, str) and mixed_precision not in ("true", "auto", "1"):
        if mixed_precision not in ("mixed_float16", "mixed_bfloat16"):
            raise DeviceError(f"unknown precision {mixed_precision!r}: use mixed_float16 or "
                              f"mixed_bfloat16")
        return mixed_precision
    return "mixed_float16" if on_gpu else "mixed_bfloat16"


@dataclass
class Context:
    strategy_name: str
    strategy: object | None          # a tf.distribute.Strategy, None for "none"
    device: str | None               # TensorFlow device string, None: automatic
    description: str
    policy: str | None = None
    worker_index: int = 0
    workers: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def is_chief(self) -> bool:
        return self.worker_index == 0

    @property
    def replicas(self) -> int:
        return 1 if self.strategy is None else int(self.strategy.num_replicas_in_sync)

    @contextlib.contextmanager
    def scope(self):
        """Build (and train) inside this: the strategy's scope, or the chosen device."""
        with contextlib.ExitStack() as stack:
            if self.strategy is not None:
                stack.enter_context(self.strategy.scope())
            elif self.device is not None:
                stack.enter_context(_tf().device(self.device))
            yield


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        raise DeviceError("the multi-worker strategy needs TF_CONFIG (the cluster's workers and "
                          "this worker's index), e.g. {\"cluster\": {\"worker\": "
                          "[\"host1:port\", \"host2:port\"]}, \"task\": {\"type\": \"worker\", "
                          "\"index\": 0}}")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        index = int(config["task"]["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise DeviceError(f"TF_CONFIG cannot be read: {e}") from None
    return {"workers": workers, "index": index, "type": config["task"].get("type", "worker")}


def setup(device: str | None = "auto", strategy: str | None = "none", mixed_precision=False,
          devices: list | None = None) -> Context:
    """The place a run computes (see the module docstring)."""
    name = (strategy or "none").strip().lower().replace("_", "-")
    if name in ("multiworker", "multi-worker-mirrored"):
        name = "multi-worker"
    if name not in STRATEGIES:
        raise DeviceError(f"unknown strategy {strategy!r}: use {' | '.join(STRATEGIES)}")
    tf = _tf()
    if name == "multi-worker":
        cluster = _tf_config()      # before anything else touches TensorFlow's runtime
        try:
            strat = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:
            raise DeviceError(f"cannot start the multi-worker strategy: {e} (it must be created "
                              f"before TensorFlow runs anything in this process)") from None
        on_gpu = bool(gpus())
        where = f"{len(gpus())} GPU(s)" if on_gpu else "CPU"
        desc = (f"MultiWorkerMirroredStrategy: worker {cluster['index']} of "
                f"{len(cluster['workers'])}, {strat.num_replicas_in_sync} replicas in all, "
                f"{where} per worker")
        return Context(name, strat, None, desc, mixed_policy(mixed_precision, on_gpu),
                       cluster["index"], len(cluster["workers"]))
    if name == "mirrored":
        if devices:
            strat = tf.distribute.MirroredStrategy(devices=list(devices))
            listed = ", ".join(d.split("device:")[-1].upper().lstrip("/") for d in devices)
        else:
            strat = tf.distribute.MirroredStrategy()
            found = gpus()
            listed = (", ".join(gpu_name(i) for i in range(len(found))) if found else "CPU")
        on_gpu = bool(gpus()) and not all("cpu" in str(d).lower() for d in (devices or ["gpu"]))
        desc = f"MirroredStrategy over {strat.num_replicas_in_sync} replica(s): {listed}"
        return Context(name, strat, None, desc, mixed_policy(mixed_precision, on_gpu))
    tf_device, desc, on_gpu = resolve_device(device)
    return Context(name, None, tf_device, desc, mixed_policy(mixed_precision, on_gpu))
