"""`netdesigner`: the command-line front end over the same core as the GUI.

Heavy modules (Qt, TensorFlow) are imported only by the subcommands that need them, so
`netdesigner validate` starts in a fraction of a second.
"""
from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2
# A fault of the program itself, never of the user's file: a distinct code, so that a script
# calling `netdesigner validate` can tell "your file has problems" (1) from "we crashed".
EXIT_INTERNAL = 3


def _shape_text(shapes) -> str:
    from netdesigner.graph.shapes import fmt
    if shapes is None:
        return "?"
    return ", ".join(fmt(s) for s in shapes)


def _validate_data(graph, analysis) -> dict:
    nodes = []
    for n in graph.nodes():
        node, report = graph.node(n), analysis.report(n)
        nodes.append({
            "id": n, "type": node.type,
            "outputs": None if report.outputs is None else [list(s) for s in report.outputs],
            "params": report.params, "trainable_params": report.trainable,
            "flops": report.flops,
            "problems": [p.to_dict() for p in report.problems],
        })
    return {
        "nodes": nodes,
        "edges": [{"source": e.source, "source_port": e.source_port, "target": e.target,
                   "target_port": e.target_port,
                   "shape": None if analysis.edge_shape(e) is None else list(analysis.edge_shape(e))}
                  for e in graph.edges()],
        "totals": {"params": analysis.total_params(), "trainable_params": analysis.total_trainable(),
                   "flops": analysis.total_flops(), "layers": len(graph)},
        "problems": [p.to_dict() for p in analysis.problems()],
        "ok": analysis.ok,
    }


def _print_table(path, graph, analysis, out) -> None:
    rows = [("layer", "type", "output shape", "params", "FLOPs")]
    for n in graph.nodes():
        report = analysis.report(n)
        rows.append((n, graph.node(n).type, _shape_text(report.outputs), f"{report.params:,}",
                     f"{report.flops:,}"))
    rows.append(("total", "", "", f"{analysis.total_params():,}", f"{analysis.total_flops():,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    print(f"{path}: {len(graph)} layers", file=out)
    for i, row in enumerate(rows):
        if i == len(rows) - 1:
            print("  " + "-" * (sum(widths) + 8), file=out)
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                 row[3].rjust(widths[3]), row[4].rjust(widths[4])]
        print("  " + "  ".join(cells).rstrip(), file=out)
    trainable = analysis.total_trainable()
    if trainable != analysis.total_params():
        print(f"  ({trainable:,} trainable, {analysis.total_params() - trainable:,} not)",
              file=out)
    problems = analysis.problems()
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    if not problems:
        print("No problems.", file=out)
    for title, group in (("error", errors), ("warning", warnings)):
        if group:
            print(f"{len(group)} {title}{'s' if len(group) != 1 else ''}:", file=out)
            for p in group:
                print(f"  {p}", file=out)


def cmd_validate(args) -> int:
    from netdesigner.graph import fileformat
    from netdesigner.graph.validation import Analysis
    try:
        graph = fileformat.load(args.file)
    except fileformat.GraphFileError as e:
        if args.json:
            print(json.dumps({"file": e.file, "ok": False,
                              "error": {"json_path": e.json_path, "message": e.message}},
                             indent=2))
        else:
            print(f"error: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    analysis = Analysis(graph, live=False)
    if args.json:
        print(json.dumps({"file": str(args.file), **_validate_data(graph, analysis)}, indent=2))
    else:
        _print_table(args.file, graph, analysis, sys.stdout)
    return EXIT_OK if analysis.ok else EXIT_PROBLEMS


def cmd_layers(args) -> int:
    from netdesigner.graph import CATALOG
    if args.json:
        print(json.dumps([t.describe() for t in CATALOG], indent=2))
        return EXIT_OK
    for category, types in CATALOG.categories().items():
        print(category)
        for t in types:
            print(f"  {t.type_id:<24} {t.description}")
    return EXIT_OK


# -- training -------------------------------------------------------------------------------------

class Progress:
    """A text progress bar on stderr for the training protocol's events: a live bar while an
    epoch runs (on a terminal), one line per epoch, a last line with the end reason."""

    def __init__(self, out=None, quiet: bool = False, min_interval: float = 0.1):
        self.out = out or sys.stderr
        self.quiet = quiet
        self.live = hasattr(self.out, "isatty") and self.out.isatty() and not quiet
        self.min_interval = min_interval
        self.epochs = self.steps = 0
        self._last = 0.0
        self.begin: dict = {}
        self.end: dict | None = None
        self.error: str | None = None
        self.input_shares: list[float] = []     # per epoch: the steps' wait for data

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    @staticmethod
    def _metrics(loss, metrics: dict, prefix: str = "") -> str:
        parts = [f"{prefix}loss {loss:.4f}"] if loss is not None else []
        parts += [f"{prefix}{k} {v:.4f}" for k, v in metrics.items()]
        return "  ".join(parts)

    def __call__(self, event: dict) -> None:
        import time

        from netdesigner.backends import protocol
        kind = event.get("event")
        if kind == "data_progress" and not self.quiet:
            from netdesigner.backends.progress import describe
            text = describe(event["stage"], event["done"], event["total"], event["unit"])
            finished = event["done"] >= event["total"]
            if self.live:
                self._write("\r" + text + "\x1b[K" + ("\n" if finished else ""))
            elif finished or time.monotonic() - self._last >= 2.0:
                self._last = time.monotonic()
                self._write(text + "\n")
        elif kind == "train_begin":
            self.begin = event
            self.epochs, self.steps = event["epochs"], event["steps_per_epoch"]
            if not self.quiet:
                self._write(f"training on {event['backend']} ({event['device']}): "
                            f"{event['samples']:,} samples, {self.steps} batches an epoch, "
                            f"{self.epochs} epochs\n")
        elif kind == "batch" and self.live:
            now = time.monotonic()
            done = event["batch"] + 1
            if now - self._last < self.min_interval and done != self.steps:
                return
            self._last = now
            width = 24
            filled = int(width * done / max(self.steps, 1))
            bar = "#" * filled + "-" * (width - filled)
            self._write(f"\repoch {event['epoch'] + 1}/{self.epochs} [{bar}] {done}/{self.steps}"
                        f"  {self._metrics(event['loss'], event['metrics'])}\x1b[K")
        elif kind == "epoch" and not self.quiet:
            line = (f"epoch {event['epoch'] + 1}/{self.epochs}  "
                    f"{self._metrics(event['loss'], event['metrics'])}")
            if event.get("val_loss") is not None:
                line += "  " + self._metrics(event["val_loss"], event["val_metrics"], "val_")
            line += f"  ({event['seconds']:.1f} s"
            if self.begin and event["seconds"] > 0:     # training samples over the epoch's time
                line += f", {self.begin['samples'] / event['seconds']:,.0f} examples/s"
            share = protocol.input_share(event)
            if share is not None:
                self.input_shares.append(share)
                line += f", waiting for data {share:.0%}"
            line += ")"
            self._write(("\r" if self.live else "") + line + ("\x1b[K" if self.live else "")
                        + "\n")
        elif kind == "train_end":
            self.end = event
            if self.live:
                self._write("\r\x1b[K")
            if not self.quiet:
                text = {"completed": "finished", "early_stopping": "stopped early (no better "
                        "validation loss)", "stopped": "stopped", "nan": "diverged"}
                self._write(f"{text.get(event['reason'], event['reason'])} after "
                            f"{event['epochs_run']} epoch(s)"
                            + (f"; best epoch {event['best_epoch'] + 1}"
                               if event.get("best_epoch") is not None else "") + "\n")
                if event.get("message"):
                    self._write(event["message"] + "\n")
                shares = self.input_shares[1:] or self.input_shares     # warm epochs
                if shares and sum(shares) / len(shares) > protocol.INPUT_BOUND_SHARE:
                    self._write("note: " + protocol.input_advice(sum(shares) / len(shares))
                                + "\n")
        elif kind == "error":
            self.error = event["message"]


def metrics_table(rows: dict) -> str:
    """rows: {"train": {"loss": .., "accuracy": ..}, "val": {...}, "test": {...}}"""
    names = []
    for values in rows.values():
        for k in values:
            if k not in names:
                names.append(k)
    header = ["split"] + names
    lines = [header]
    for split, values in rows.items():
        lines.append([split] + [f"{values[k]:.4f}" if k in values else "" for k in names])
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    out = []
    for r in lines:
        out.append("  ".join([r[0].ljust(widths[0])]
                             + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]).rstrip())
    return "\n".join(out)


def _is_chief() -> bool:
    import os
    try:
        return int(json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
                   .get("index", 0)) == 0
    except (ValueError, AttributeError):
        return True


def cmd_train(args) -> int:
    import signal
    from pathlib import Path

    from netdesigner.graph import fileformat
    graph = fileformat.load(args.file)       # unreadable: main() reports it (exit 2)
    backend = args.backend or graph.training.get("backend", "numpy")
    if args.epochs is not None:
        graph.training["epochs"] = args.epochs
    if args.batch_size is not None:
        graph.training["batch_size"] = args.batch_size
    from netdesigner.backends import jobs
    from netdesigner.backends.weights_file import weights_path
    if backend not in jobs.BACKENDS:
        print(f"error: unknown backend {backend!r}: choose {' or '.join(jobs.BACKENDS)}",
              file=sys.stderr)
        return EXIT_PROBLEMS
    options = {}
    if backend == "keras":
        options = {"device": args.device, "strategy": args.strategy,
                   "mixed_precision": args.mixed_precision}
    elif args.strategy not in (None, "none") or args.mixed_precision or \
            args.device not in (None, "auto", "cpu"):
        print("error: --device gpu, --strategy and --mixed-precision need --backend keras",
              file=sys.stderr)
        return EXIT_PROBLEMS
    base_dir = str(Path(args.file).resolve().parent)
    progress = Progress(quiet=args.quiet)
    try:
        from netdesigner.backends import progress as data_progress
        from netdesigner.backends.protocol import data_progress as progress_event
        with data_progress.reporting(lambda *where: progress(progress_event(*where))):
            prepared = jobs.prepare(graph, base_dir)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    out = None if args.no_save else weights_path(args.file)
    if args.strategy == "multi-worker" and not _is_chief():
        out = None                      # the chief (worker 0) saves the weights
    stop = {"asked": False}

    def on_sigint(signum, frame):
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nstopping after this batch (Ctrl+C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        outcome = jobs.train(prepared, backend, progress, should_stop=lambda: stop["asked"],
                             stats_every=args.stats_every, weights_out=out,
                             options={k: v for k, v in options.items() if v is not None})
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        signal.signal(signal.SIGINT, previous)
    result = outcome.result
    rows = prepared.mode.scores(backend, result, prepared, prepared.settings,
                                outcome.evaluation)
    print(metrics_table(rows))
    if out is not None and Path(out).exists():
        print(f"weights saved to {out}")
    if args.json:
        print(json.dumps({"reason": result.reason, "epochs_run": result.epochs_run,
                          "mode": prepared.mode.name, "metrics": rows,
                          "weights": None if out is None else str(out)}))
    return EXIT_PROBLEMS if result.reason == "nan" else EXIT_OK


def cmd_compare(args) -> int:
    """Train the design with each optimizer in turn; a table, the curves as PNG / CSV."""
    from pathlib import Path

    from netdesigner.backends.comparison import VARIANTS, compare_optimizers, variant_settings
    from netdesigner.graph import fileformat
    graph = fileformat.load(args.file)       # unreadable: main() reports it (exit 2)
    names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        print(f"error: unknown optimizer {', '.join(unknown) or '(none given)'}: choose from "
              f"{', '.join(VARIANTS)}", file=sys.stderr)
        return EXIT_PROBLEMS
    backend = args.backend or graph.training.get("backend", "numpy")

    def progress(name, event):
        if not args.quiet and event.get("event") == "epoch":
            print(f"{name}: epoch {event['epoch'] + 1} loss {event['loss']:.4f}",
                  file=sys.stderr)
    try:
        runs = compare_optimizers(graph, str(Path(args.file).resolve().parent), names,
                                  backend, args.epochs, progress)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    rows = {}
    for name, run in runs.items():
        last = {k: v[-1] for k, v in run.history.items() if v and v[-1] is not None}
        rows[name] = {**{k: last[k] for k in ("loss", "val_loss") if k in last},
                      **{f"test_{k}": v for k, v in run.test.items() if v is not None}}
    print(metrics_table(rows).replace("split", "optimizer", 1))
    histories = {name: run.history for name, run in runs.items()}
    if args.png:
        from .curves_image import write_loss_curves
        title = f"{graph.metadata.get('title') or Path(args.file).stem}: loss by optimizer"
        print(f"curves written to {write_loss_curves(histories, args.png, title)}")
    if args.csv:
        import csv
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["optimizer", "epoch", "loss", "val_loss"])
            for name, h in histories.items():
                for i, loss in enumerate(h.get("loss", [])):
                    val = h.get("val_loss") or []
                    w.writerow([name, i + 1, loss, val[i] if i < len(val) else ""])
        print(f"curves written to {args.csv}")
    if args.keep_runs:
        for run in runs.values():
            # each run keeps the design it trained: this one with its optimizer
            trained = fileformat.loads(fileformat.dumps(graph), str(args.file))
            trained.training = variant_settings(dict(graph.training), run.name)
            graph.runs.append({**run.as_project_run(backend),
                               "design": fileformat.design_snapshot(trained)})
        fileformat.save(graph, args.file)
        print(f"{len(runs)} runs added to {args.file}: the designer's Runs tab overlays them")
    return EXIT_PROBLEMS if any(r.reason == "nan" for r in runs.values()) else EXIT_OK


# -- export and import ----------------------------------------------------------------------------

def cmd_export(args) -> int:
    from pathlib import Path

    from netdesigner.graph import fileformat
    graph = fileformat.load(args.file)       # unreadable: main() reports it (exit 2)
    from netdesigner.backends.jobs import prepare
    from netdesigner.backends.weights_file import weights_path
    weights = None
    if not args.no_weights:
        weights = args.weights or weights_path(args.file)
        if not Path(weights).exists():
            if args.weights:
                print(f"error: no weights file {weights}", file=sys.stderr)
                return EXIT_UNREADABLE
            weights = None
    split = None
    if args.with_data:
        if args.to != "py":
            print("error: --with-data goes with --to py", file=sys.stderr)
            return EXIT_PROBLEMS
        try:
            split = prepare(graph, str(Path(args.file).resolve().parent)).split
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_PROBLEMS
    else:           # every format carries the scaling fitted on the training split
        try:
            split = prepare(graph, str(Path(args.file).resolve().parent)).split
        except ValueError as e:
            print(f"(the data set cannot be prepared, so the export takes prepared samples "
                  f"only: {e})", file=sys.stderr)
    from netdesigner.backends.export import export, usage_note
    try:
        written = export(graph, args.to, args.out, weights=weights,
                         source_name=Path(args.file).name, split=split,
                         with_data=args.to != "py" or bool(args.with_data))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    for path in written:
        print(f"wrote {path}")
    if usage_note(written):
        print(usage_note(written))
    if weights is None:
        print("(no trained weights: the exported model has freshly initialised weights)",
              file=sys.stderr)
    return EXIT_OK


def cmd_import(args) -> int:
    from netdesigner.backends import applications
    from netdesigner.backends.keras.importer import ImportProblem, import_file
    # an application without weights: its design converted ahead of time, if it is shipped
    # for the installed Keras (no TensorFlow; the same text the conversion writes)
    shipped = applications.shipped_name(args.model) if args.no_weights else None
    try:
        if shipped:
            graph, written = applications.save_design(shipped, args.out)
        else:
            graph, written = import_file(args.model, args.out, weights=not args.no_weights)
    except ImportProblem as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    for path in written:
        print(f"wrote {path}")
    print(f"{len(graph)} layers")
    return EXIT_OK


def cmd_check(args) -> int:
    """The parity inspector: both backends, same weights, one batch, node by node."""
    from netdesigner.backends import parity
    from netdesigner.graph import fileformat
    from netdesigner.graph.validation import Analysis
    graph = fileformat.load(args.file)       # unreadable: main() reports it (exit 2)
    errors = Analysis(graph, live=False).errors()
    if errors:
        print("error: the network has problems; run `netdesigner validate` first:",
              file=sys.stderr)
        for p in errors[:10]:
            print(f"  {p}", file=sys.stderr)
        return EXIT_PROBLEMS
    weights = chosen_weights(args)
    from netdesigner.backends.keras.compiler import CompileError as KerasCompileError
    from netdesigner.backends.numpy.model import CompileError as NumpyCompileError
    try:
        report = parity.check(graph, weights=weights, batch=args.batch, seed=args.seed)
    except (NumpyCompileError, KerasCompileError) as e:
        # a layer one backend cannot run (NumPy has no padding masks): nothing to compare
        print(f"error: {args.file}: cannot compare the backends: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    where = f"trained weights {weights}" if weights else "random weights"
    print(f"{args.file}: NumPy vs Keras on {where}, a batch of {report.batch}; "
          f"tolerance {parity.ATOL:g} absolute or {parity.RTOL:g} times the "
          f"tensor's largest value")
    print(report.table())
    failed = report.failed()
    if failed:
        print(f"{len(failed)} node(s) over tolerance: {', '.join(n.node for n in failed)}")
        return EXIT_PROBLEMS
    print("All nodes agree.")
    return EXIT_OK


def cmd_trace(args) -> int:
    """One sample through the network: every layer's output and gradient, and why."""
    import numpy as np

    from netdesigner.backends import trace as tracing
    from netdesigner.backends.jobs import prepare
    from netdesigner.graph import fileformat
    from pathlib import Path
    graph = fileformat.load(args.file)
    weights = chosen_weights(args)
    base_dir = str(Path(args.file).resolve().parent)
    try:
        # the data set read once, for the trace, the worked-out value and the saliency
        given = (tracing.read_given(args.input, graph) if args.input
                 else tracing.parse_tokens(graph, args.tokens) if args.tokens is not None
                 else None)
        prepared = None if graph.training.get("mode") == "gan" else prepare(graph, base_dir)
        traced = tracing.trace(graph, base_dir, index=args.sample, split=args.split,
                               weights=weights, backend=args.backend, prepared=prepared,
                               given=given)
        explanation = None
        if args.explain:
            node, _, where = args.explain.partition(":")
            try:
                position = tuple(int(p) for p in where.split(",")) if where else ()
            except ValueError:
                raise tracing.TraceError(f"--explain {args.explain!r}: write NODE:I,J,K "
                                         f"(e.g. conv2d_1:0,3,5)") from None
            explanation = tracing.explain(
                graph, traced, tracing.trace_weights(graph, base_dir, weights, prepared),
                node, position)
        why = (tracing.attribution(graph, base_dir, index=args.sample, split=args.split,
                                   weights=weights, prepared=prepared, given=given)
               if args.why else None)
        if why is not None and why.saliency.ndim != 2:
            raise tracing.TraceError("--why draws image inputs; this input is not an image")
        if args.layer and args.layer not in traced.layers:
            raise tracing.TraceError(f"there is no layer {args.layer!r}: the layers are "
                                     f"{', '.join(traced.layers)}")
    except ValueError as e:                  # TraceError, a data fault, a bad design
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.png:
        tracing.write_png(traced, args.png,
                          layers=None if not args.layer else [args.layer])
    if why is not None:
        tracing.write_attribution_png(traced, why, args.why)
    if args.json:
        data = traced.to_dict(values=bool(args.layer))
        if args.layer:
            data["layers"] = [entry for entry in data["layers"] if entry["node"] == args.layer]
            if args.layer in traced.attention:
                data["attention"] = traced.attention[args.layer].tolist()
        if explanation is not None:
            data["explain"] = explanation.to_dict()
        print(json.dumps(data, indent=2, default=float))
        return EXIT_OK
    where = f"trained weights {weights}" if weights else "untrained (initial) weights"
    predicted = traced.predicted_class()
    print(f"{args.file}: {traced.name()} on {args.backend}, {where}; "
          + (f"loss {traced.loss:.4g}" if traced.target is not None else "no target, no loss")
          + (f"; predicted {traced.classes[predicted]}" if predicted is not None else "")
          + (f", target {traced.classes[int(np.argmax(traced.target))]}"
             if predicted is not None and traced.target is not None
             and np.ndim(traced.target) == 1 and len(traced.target) == len(traced.classes)
             else ""))
    rows = [("layer", "type", "output", "mean", "std", "min", "max", "zeros", "|grad|")]
    for t in traced.layers.values():
        st = t.stats()
        grad = "" if st["grad_mean_abs"] is None else f"{st['grad_mean_abs']:.3g}"
        rows.append((t.node, t.type, str(tuple(np.shape(t.outputs[0]))), f"{st['mean']:.3g}",
                     f"{st['std']:.3g}", f"{st['min']:.3g}", f"{st['max']:.3g}",
                     f"{st['zeros']:.0%}", grad))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if args.layer:
        t = traced.layers[args.layer]
        with np.printoptions(precision=4, suppress=True, threshold=400, linewidth=100):
            print(f"\n{args.layer} output:\n{t.outputs[0]}")
            if t.gradients and t.gradients[0] is not None:
                print(f"{args.layer} gradient of the loss:\n{t.gradients[0]}")
            if args.layer in traced.attention:
                weights = traced.attention[args.layer]
                print(f"{args.layer} attention weights ({weights.shape[0]} heads x "
                      f"{weights.shape[1]} query steps x {weights.shape[2]} key steps; each "
                      f"row sums to 1):\n{weights}")
    if explanation is not None:
        print("\n" + explanation.text())
    if args.png:
        print(f"wrote {args.png}")
    if why is not None:
        print(f"why '{why.class_name}': saliency and Grad-CAM ({why.conv_layer}) written to "
              f"{args.why}")
    return EXIT_OK


def cmd_predict(args) -> int:
    """Greedy decoding of typed source sequences by a design trained with teacher forcing."""
    from pathlib import Path

    from netdesigner.backends import decoding
    from netdesigner.graph import fileformat
    graph = fileformat.load(args.file)
    weights = chosen_weights(args)
    try:
        done = decoding.decode_text(graph, str(Path(args.file).resolve().parent), args.tokens,
                                    weights, args.backend)
    except ValueError as e:                  # DecodingError, a data fault, unreadable weights
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    sources, tokens, plan = done["sources"], done["decoded"], done["plan"]
    if args.json:
        print(json.dumps({"sources": sources.tolist(), "decoded": tokens.tolist()}))
        return EXIT_OK
    where = f"trained weights {weights}" if weights else "untrained (initial) weights"
    print(f"{args.file}: greedy decoding on {args.backend}, {where} ({plan['decoder_input']} "
          f"starts with {plan['start']}, then reads the previous prediction)")
    for source, row in zip(sources, tokens):
        print(" ".join(map(str, source)) + "  ->  " + " ".join(map(str, row)))
    return EXIT_OK


def cmd_embeddings(args) -> int:
    """An Embedding layer's learned word vectors: a word's nearest neighbours, a 2-D picture."""
    from netdesigner.backends import embeddings
    from netdesigner.graph import fileformat
    graph = fileformat.load(args.file)
    weights = chosen_weights(args)
    try:
        wv = embeddings.word_vectors(graph, weights, args.layer)
        word = args.word
        if word is None and args.neighbours:
            word = wv.words[0]
        if word is not None:
            wv.index(word)                   # an unknown word: its sentence, before any output
        result = embeddings.to_dict(wv, word, args.neighbours)
    except ValueError as e:                  # EmbeddingError, a data fault, unreadable weights
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.png:
        embeddings.write_png(wv, args.png, word, args.neighbours)
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    print(f"{args.file}: {len(wv.words)} word vectors of {wv.layer} "
          f"({wv.vectors.shape[1]} numbers each), {wv.source}")
    if word is not None:
        print(f"nearest to {word!r} (cosine similarity):")
        for entry in result["neighbours"]:
            topic = wv.topics[wv.index(entry["word"])] if wv.topics else ""
            print(f"  {entry['word']:<14} {entry['similarity']:+.3f}"
                  + (f"  ({topic})" if topic else ""))
    separation = result.get("topic_separation")
    if separation:
        print(f"topics: mean cosine similarity within a topic {separation['within']:+.3f}, "
              f"across topics {separation['across']:+.3f}; "
              f"{separation['neighbour_share']:.0%} of each word's {separation['k']} nearest "
              f"neighbours share its topic ({separation['words']} topic words)")
    if args.png:
        print(f"wrote {args.png}")
    return EXIT_OK


def _git_revision(path: str, rev: str):
    """(the text of `path` at git revision `rev`, a name for it); ValueError says why not."""
    import subprocess
    from pathlib import Path
    file = Path(path).resolve()
    if not file.exists():
        raise ValueError(f"{path}: no such file")

    def git(*args) -> str:
        try:
            done = subprocess.run(["git", "-C", str(file.parent), *args], capture_output=True,
                                  text=True, timeout=60)
        except FileNotFoundError:
            raise ValueError("--git needs the git program, which is not on the PATH") from None
        except subprocess.TimeoutExpired:
            raise ValueError(f"git did not answer within 60 s in {file.parent}") from None
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["git failed"])[-1]
            raise ValueError(f"{path} at {rev}: {reason}")
        return done.stdout

    prefix = git("rev-parse", "--show-prefix").strip()
    return git("show", f"{rev}:{prefix}{file.name}"), f"{path}@{rev}"


def cmd_diff(args) -> int:
    from netdesigner.graph import fileformat
    from netdesigner.graph.diff import diff
    if args.git:
        if args.new is not None:
            print("error: with --git REV give one file: it is compared with its own "
                  "revision REV", file=sys.stderr)
            return EXIT_UNREADABLE
        try:
            text, old_name = _git_revision(args.old, args.git)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_UNREADABLE
        old, new_name = fileformat.loads(text, old_name), args.old
        new = fileformat.load(args.old)
    else:
        if args.new is None:
            print("error: give two .graph files, or one file and --git REV", file=sys.stderr)
            return EXIT_UNREADABLE
        old_name, new_name = args.old, args.new
        old, new = fileformat.load(args.old), fileformat.load(args.new)
    result = diff(old, new)
    if args.json:
        print(json.dumps({"old": old_name, "new": new_name, **result.to_dict()}, indent=2,
                         default=list))
    else:
        print(f"{old_name} -> {new_name}: {result.summary()}")
        for line in result.lines():
            print(f"  {line}")
    return EXIT_OK if result.equal else EXIT_PROBLEMS


def add_weights_options(p, otherwise: str) -> None:
    """--weights and --random, for the commands that run a design's weights."""
    p.add_argument("--weights", help=f"an .npz of weights (default: the project's trained "
                                     f"weights if there are any, else {otherwise} ones)")
    p.add_argument("--random", action="store_true",
                   help=f"use {otherwise} weights even if the project has trained ones")


def chosen_weights(args) -> str | None:
    """The weights file --weights / --random choose: given, else the project's trained ones
    (None: random or initial weights)."""
    from netdesigner.backends.weights_file import weights_path
    if args.weights is None and not args.random and weights_path(args.file).exists():
        return str(weights_path(args.file))
    return args.weights


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netdesigner",
        description="Design, check, train and export neural networks. "
                    "`netdesigner` alone opens the designer; `netdesigner FILE` opens a file in it.")
    parser.add_argument("--verbose", action="store_true",
                        help="let TensorFlow's start-up messages through (CUDA, oneDNN, absl); "
                             "anywhere on the command line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("validate", help="check a .graph file: every layer's output shape, "
                                        "parameter count and problems (exit 1 on problems)")
    p.add_argument("file", help="a .graph project file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("layers", help="list the layer catalog")
    p.add_argument("--json", action="store_true", help="print the declarations as JSON")
    p.set_defaults(func=cmd_layers)
    p = sub.add_parser("train", help="train a .graph design (progress on stderr, a final "
                                     "metrics table; the weights go beside it)")
    p.add_argument("file", help="a .graph project file")
    p.add_argument("--backend", choices=("numpy", "keras"),
                   help="the engine (default: the design's training setting)")
    p.add_argument("--epochs", type=int, help="override the design's number of epochs")
    p.add_argument("--batch-size", type=int, help="override the design's batch size")
    p.add_argument("--device", default="auto",
                   help="keras: auto (a GPU when TensorFlow sees one) | cpu | gpu | gpu:N")
    p.add_argument("--strategy", default="none", choices=("none", "mirrored", "multi-worker"),
                   help="keras: tf.distribute strategy (multi-worker reads TF_CONFIG)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="keras: float16 (GPU) / bfloat16 (CPU) compute, float32 weights")
    p.add_argument("--stats-every", type=int, default=20,
                   help="batches between per-layer statistics (0: none)")
    p.add_argument("--no-save", action="store_true", help="do not save the trained weights")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true", help="also print the results as JSON")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("compare", help="train a design once per optimizer (same initial "
                                       "weights, same batches) and compare the loss curves")
    p.add_argument("file", help="a .graph project file")
    p.add_argument("--optimizers", default="sgd,momentum,rmsprop,adam",
                   help="comma-separated: sgd, momentum, nesterov, adagrad, rmsprop, adam, "
                        "adamw (default: sgd,momentum,rmsprop,adam)")
    p.add_argument("--backend", choices=("numpy", "keras"),
                   help="the engine (default: the design's training setting)")
    p.add_argument("--epochs", type=int, help="override the design's number of epochs")
    p.add_argument("--png", help="write the loss curves to this PNG")
    p.add_argument("--csv", help="write the loss curves to this CSV (optimizer, epoch, loss, "
                                 "val_loss)")
    p.add_argument("--keep-runs", action="store_true",
                   help="add the runs to the project file, to overlay them in the designer")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("export", help="export a design (with its trained weights) as a Python "
                                      "script, a SavedModel, a .keras file or ONNX")
    p.add_argument("file", help="a .graph project file")
    p.add_argument("--to", required=True, choices=("py", "savedmodel", "keras", "onnx"))
    p.add_argument("out", help="the file (or SavedModel folder) to write")
    p.add_argument("--weights", help="weights to export (default: the ones beside the design)")
    p.add_argument("--no-weights", action="store_true", help="export untrained weights")
    p.add_argument("--with-data", action="store_true",
                   help="py: also write the prepared data set beside the script")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("check", help="parity inspector: run one batch forward and backward on "
                                     "the NumPy and Keras backends with the same weights and "
                                     "compare every node (exit 1 if any disagrees)")
    p.add_argument("file", help="a .graph project file")
    add_weights_options(p, "random")
    p.add_argument("--batch", type=int, default=4, help="batch size (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch (default 0)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("trace", help="one sample through the network: every layer's output "
                                     "and the gradient of the loss with respect to it")
    p.add_argument("file", help="a .graph project file")
    p.add_argument("--sample", type=int, default=0, help="row of the split (default 0)")
    p.add_argument("--split", default="test", choices=("test", "val", "train"),
                   help="which prepared split the sample comes from (default test)")
    given = p.add_mutually_exclusive_group()
    given.add_argument("--input", metavar="PATH",
                       help="trace this sample instead of a row of a split: an .npy array (a "
                            "raw sample, as the data set has it) or a picture (.png, .jpg: "
                            "grey, bright = ink, resized) for designs that read grey images")
    given.add_argument("--tokens", metavar="IDS",
                       help="trace this token sequence (ids, e.g. '3 1 4 1 5 9') for designs "
                            "that read token ids")
    p.add_argument("--layer", help="print this layer's whole output and gradient")
    p.add_argument("--explain", metavar="NODE:I,J,K",
                   help="how one output value of a Dense or Conv2D layer was computed, with "
                        "the real numbers (e.g. conv2d_1:0,3,5 or dense_2:4)")
    p.add_argument("--png", help="write every layer's output for the sample to this PNG")
    p.add_argument("--why", metavar="PNG",
                   help="why this prediction: the sample, its saliency map and Grad-CAM on the "
                        "last convolution, to this PNG (image classifiers)")
    p.add_argument("--backend", choices=("numpy", "keras"), default="numpy",
                   help="numpy (the exact reference, default) or keras")
    add_weights_options(p, "the initial")
    p.add_argument("--json", action="store_true", help="print the trace as JSON")
    p.set_defaults(func=cmd_trace)
    p = sub.add_parser("predict", help="decode greedily with a design trained with teacher "
                                       "forcing: the decoder reads its own previous prediction")
    p.add_argument("file", help="a .graph project file")
    p.add_argument("--tokens", required=True, metavar="IDS",
                   help="source sequences of token ids, e.g. '3 1 4 1 5 9' (several: separate "
                        "them with ';')")
    p.add_argument("--backend", choices=("numpy", "keras"), default="numpy",
                   help="numpy (default) or keras")
    add_weights_options(p, "the initial")
    p.add_argument("--json", action="store_true", help="print sources and decoded tokens as JSON")
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("embeddings", help="an Embedding layer's learned word vectors: a word's "
                                          "nearest neighbours (cosine) and a 2-D projection "
                                          "(PCA) of all of them")
    p.add_argument("file", help="a .graph project file")
    p.add_argument("--layer", help="the Embedding layer (default: the first)")
    p.add_argument("--word", help="list this word's nearest neighbours")
    p.add_argument("--neighbours", type=int, default=5,
                   help="how many neighbours (default 5; without --word, of the first word)")
    p.add_argument("--png", help="draw every word at its 2-D projection to this PNG")
    add_weights_options(p, "the initial")
    p.add_argument("--json", action="store_true",
                   help="print the words' projection, the neighbours and topic separation "
                        "as JSON")
    p.set_defaults(func=cmd_embeddings)
    p = sub.add_parser("diff", help="what changed between two designs: layers added, removed "
                                    "or changed, rewired wires, shapes, settings, blocks "
                                    "(exit 0 when equal, 1 when different)")
    p.add_argument("old", help="a .graph project file (the earlier version)")
    p.add_argument("new", nargs="?", help="the later version (omit with --git)")
    p.add_argument("--git", metavar="REV",
                   help="compare the file at git revision REV (e.g. HEAD, HEAD~3, a tag) with "
                        "the file as it is now")
    p.add_argument("--json", action="store_true", help="print the diff as JSON")
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("import", help="turn a Keras model (.keras file, or "
                                      "keras.applications.NAME) into a .graph design")
    p.add_argument("model", help="a .keras file, or keras.applications.NAME (weights=None)")
    p.add_argument("out", help="the .graph file to write")
    p.add_argument("--no-weights", action="store_true",
                   help="do not write the model's weights beside the design")
    p.set_defaults(func=cmd_import)
    parser.commands = dict(sub.choices)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # --verbose is global and may stand anywhere (`netdesigner train F --verbose` too), so it
    # is taken out before the command is dispatched; without it TensorFlow, imported later by
    # whichever command needs it (and by the training workers), keeps its start-up noise.
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    if not verbose:
        from netdesigner.backends import quiet_tf
        quiet_tf.quiet()
    parser = build_parser()
    commands = set(parser.commands)
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        # `netdesigner` or `netdesigner FILE`: the designer window
        if len(argv) > 1:
            parser.error(f"unknown command {argv[0]!r}")
        from .app import run
        return run(argv[0] if argv else None)
    args = parser.parse_args(argv)
    from netdesigner.graph.fileformat import GraphFileError
    try:
        return args.func(args)
    except GraphFileError as e:              # a file that cannot be read: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:                   # noqa: BLE001 - the last line of defence
        # Every bad input is a GraphFileError or a problem; reaching here is a bug. One line
        # (the traceback with --verbose), and a code that is not "the file has problems".
        if verbose:
            import traceback
            traceback.print_exc()
        where = ""
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        message = str(e).splitlines()[0][:200] if str(e) else ""
        print(f"internal error: {type(e).__name__}{where}: {message} (a bug in netdesigner; "
              f"please report it, with the file and the command; --verbose shows the details)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
