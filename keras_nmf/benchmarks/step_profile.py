"""Where a compiled training step's time goes: per op class, per layer, forward and backward (XLA on the CPU).

Both backends compile the step with XLA and run it as a sequence of XLA *thunks* (one per fusion, matmul, loop
...), and both profilers record each thunk by its HLO instruction's name (``jax.profiler`` and
``tf.profiler.experimental``: the TSL profiler they share). The HLO text that XLA dumps after its optimisations
says what each of those instructions computes (its fused ops) and which layer it came from (each op's
``op_name`` metadata: the Keras layer names, and, for the backward, JAX's ``transpose(jvp(...))`` or TensorFlow's
gradient scopes). :func:`profile_rows` joins the two, so every microsecond of a step gets a class
(:data:`KINDS`), a layer and a direction; containers (``while``, ``call``, ``conditional``) are left out, so their
bodies are counted once.

Each backend runs twice in its own process (:func:`run`): once with the dump (XLA's ``--xla_dump_to``, which slows
the steps it traces) and once with the profiler alone; the names of the two compilations are the same.
"""

import collections
import glob
import gzip
import json
import os
import re
import subprocess
import sys

import numpy as np

from keras_nmf.ops.nmf import BACKWARD_SCOPE

#: The op classes, in the order the tables list them.
KINDS = (
    "matmul",
    "elementwise",
    "reduction",
    "patches (slice, pad, concatenate)",
    "chunks (dynamic slices)",
    "layout (transpose, copy)",
    "other",
)
#: The HLO module of the compiled training step, per backend.
STEP_MODULE = {"jax": r"jit_train_step", "tensorflow": r"one_step_on_data"}
_CONTAINERS = {"while", "call", "conditional"}
_INSTRUCTION = re.compile(r"^\s+(?:ROOT )?%([\w.\-]+) = \S+ ([\w\-]+)\(")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%([\w.\-]+) ")


def parse_hlo(text):
    """``{instruction name: (opcode, the instruction's text and its fused computation's)}`` of an HLO module."""
    computations, current = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            match = _COMPUTATION.match(line)
            current = match.group(1) if match else None
            if current:
                computations[current] = []
        elif current and line.startswith("  "):
            computations[current].append(line)
    instructions = {}
    for lines in computations.values():
        for line in lines:
            match = _INSTRUCTION.match(line)
            if match:
                called = re.search(r"calls=%([\w.\-]+)", line)
                body = computations.get(called.group(1), []) if called else []
                instructions[match.group(1)] = (match.group(2), "\n".join([line, *body]))
    return instructions


def classify(opcode, text):
    """``(kind, layer, direction)`` of one instruction (its text including its fused computation)."""
    ops = set(re.findall(r"= \S+ ([a-z][\w\-]*)\(", text)) | {opcode}
    if ops & {"dot", "convolution"}:
        kind = "matmul"
    elif ops & {"dynamic-update-slice", "dynamic-slice"}:
        kind = "chunks (dynamic slices)"
    elif "reduce" in ops or "reduce-window" in ops:
        kind = "reduction"
    elif ops & {"slice", "pad", "concatenate"}:
        kind = "patches (slice, pad, concatenate)"
    elif ops & {"transpose", "copy"} and not ops & {"add", "subtract", "multiply", "divide", "select"}:
        kind = "layout (transpose, copy)"
    elif ops & {
        "add",
        "subtract",
        "multiply",
        "divide",
        "select",
        "exponential",
        "log",
        "sqrt",
        "rsqrt",
        "maximum",
        "minimum",
        "compare",
        "abs",
        "negate",
        "power",
        "convert",
        "broadcast",
    }:
        kind = "elementwise"
    else:
        kind = "other"
    names = re.findall(r'op_name="([^"]*)"', text)
    # JAX: jvp(block1_cnmf)/...; TensorFlow: cnmf_1x1_1/block1_cnmf_1/... (a call's suffix _1 dropped).
    layers = collections.Counter(
        match.group(1)
        for name in names
        for match in [re.search(r"(block\d+_[a-z_]+?)(?:_\d+)?(?:[/)]|$)", name)]
        if match
    )
    layer = layers.most_common(1)[0][0] if layers else "other"
    lowered = " ".join(names).lower()
    if any(word in lowered for word in ("adam", "optimizer", "/assign")):
        direction = "optimizer"
    elif any(mark in lowered for mark in ("transpose(jvp(", "gradient_tape", BACKWARD_SCOPE)):
        direction = "backward"
    else:
        direction = "forward"
    return kind, layer, direction


def profile_rows(hlo_text, events, steps):
    """Per-step milliseconds by (direction, layer, kind), from the dumped HLO and the profiler's thunk events
    ``[(name, microseconds)]`` of ``steps`` steps."""
    instructions = parse_hlo(hlo_text)
    totals = collections.defaultdict(float)
    for name, microseconds in events:
        found = instructions.get(name)
        if found is None or found[0] in _CONTAINERS:
            continue
        totals[classify(*found)[::-1]] += microseconds / 1e3 / steps
    return [
        {"direction": direction, "layer": layer, "kind": kind, "ms": ms}
        for (direction, layer, kind), ms in sorted(totals.items(), key=lambda item: -item[1])
    ]


def _jax_events(folder):
    path = glob.glob(os.path.join(folder, "**", "*.trace.json.gz"), recursive=True)[0]
    with gzip.open(path) as handle:
        trace = json.load(handle)
    return [(event["name"], event["dur"]) for event in trace["traceEvents"] if event.get("ph") == "X"]


def _tensorflow_events(folder):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)[0]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as handle:
        space.ParseFromString(handle.read())
    events = []
    for plane in space.planes:
        for line in plane.lines:
            events += [(plane.event_metadata[event.metadata_id].name, event.duration_ps / 1e6) for event in line.events]
    return events


def _worker(spec):
    """In a subprocess on the backend of its environment: warm-up steps, then ``steps`` profiled ones."""
    import keras

    from keras_nmf.training.config import TrainConfig, for_arch
    from keras_nmf.training.recipe import build_compiled_model, process_settings, resolve_jit

    config = for_arch(TrainConfig.of(iterations=spec["iterations"]), spec["arch"])
    with process_settings("float32", seed=0):
        model = build_compiled_model(config, (28, 28, 3), 10, jit=resolve_jit(config))
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 1, (spec["batch"], 28, 28, 3)).astype("float32")
        labels = np.arange(spec["batch"]) % 10
        for _ in range(3):
            model.train_on_batch(images, labels)
        if not spec["trace"]:
            return
        backend = keras.backend.backend()
        if backend == "jax":
            import jax

            jax.profiler.start_trace(spec["trace"], create_perfetto_trace=True)
        else:
            import tensorflow as tf

            tf.profiler.experimental.start(spec["trace"])
        for _ in range(spec["steps"]):
            model.train_on_batch(images, labels)
        if backend == "jax":
            jax.profiler.stop_trace()
        else:
            tf.profiler.experimental.stop()


def run(backend, folder, arch="cnmf_1x1", batch=50, iterations=20, steps=5):
    """Profiles ``steps`` training steps of ``arch`` on ``backend`` (two subprocesses); returns the rows of
    :func:`profile_rows`. ``folder`` receives the HLO dump and the trace."""
    dump, trace = os.path.join(folder, f"{backend}-hlo"), os.path.join(folder, f"{backend}-trace")
    base = {"arch": arch, "batch": batch, "iterations": iterations, "steps": steps}
    for spec, flags in (
        (
            {**base, "trace": None},
            f"--xla_dump_to={dump} --xla_dump_hlo_as_text --xla_dump_hlo_module_re=.*{STEP_MODULE[backend]}.*",
        ),
        ({**base, "trace": trace}, ""),
    ):
        env = dict(
            os.environ,
            KERAS_BACKEND=backend,
            TF_CPP_MIN_LOG_LEVEL="3",
            XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip(),
        )
        subprocess.run(
            [sys.executable, "-m", "keras_nmf.benchmarks.step_profile", json.dumps(spec)],
            env=env,
            check=True,
            capture_output=True,
        )
    modules = sorted(
        glob.glob(os.path.join(dump, f"*{STEP_MODULE[backend]}*after_optimizations.txt")), key=os.path.getsize
    )
    with open(modules[-1]) as handle:  # the step's module (TensorFlow may compile a smaller one beside it)
        hlo = handle.read()
    events = _jax_events(trace) if backend == "jax" else _tensorflow_events(trace)
    return profile_rows(hlo, events, steps)


def summary_table(rows_by_backend, group_by, min_ms=0.0):
    """Markdown: milliseconds per step of each backend, grouped by ``group_by`` (a tuple of row keys); groups under
    ``min_ms`` on every backend are summed into one line."""
    groups = collections.defaultdict(lambda: collections.defaultdict(float))
    for backend, rows in rows_by_backend.items():
        for row in rows:
            groups[tuple(row[key] for key in group_by)][backend] += row["ms"]
    backends = list(rows_by_backend)
    order = sorted(groups, key=lambda key: -max(groups[key].values()))
    lines = [
        f"| {' | '.join(group_by)} | {' | '.join(f'{backend} ms' for backend in backends)} |",
        "|" + "---|" * (len(group_by) + len(backends)),
    ]
    small = collections.defaultdict(float)
    for key in order:
        if max(groups[key].values()) < min_ms:
            for backend, ms in groups[key].items():
                small[backend] += ms
            continue
        lines.append(
            f"| {' | '.join(key)} | "
            + " | ".join(f"{groups[key].get(backend, 0.0):.1f}" for backend in backends)
            + " |"
        )
    if small:
        lines.append(
            "| "
            + " | ".join(
                [
                    f"the rest (each under {min_ms:g} ms)",
                    *[""] * (len(group_by) - 1),
                    *(f"{small[backend]:.1f}" for backend in backends),
                ]
            )
            + " |"
        )
    totals = [f"{sum(row['ms'] for row in rows_by_backend[backend]):.1f}" for backend in backends]
    lines.append("| " + " | ".join(["all", *[""] * (len(group_by) - 1), *totals]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # worker entry point: python -m keras_nmf.benchmarks.step_profile '{json spec}'
    _worker(json.loads(sys.argv[1]))
