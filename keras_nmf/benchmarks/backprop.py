"""Training cost of the paper's networks, and the paper's Figure 1.

Per architecture: parameters, forward / backward / training-step time (the
step as ``model.fit`` runs it: forward, eq. 21 loss, gradients, Adam update,
compiled as training compiles it), training and inference images/s, and the
peak memory of a training step. Figure 1: ``cnmf_1x1`` with the one-step
backward (eqs. 18-19) and with autodiff through all N iterations, at several
N, as ratios to ``cnn`` measured in the same run.

Each configuration runs in a fresh subprocess, so that memory figures do not
mix: the peak that TensorFlow's allocator reports during training steps over
what was live before them (on CPU with its BFC allocator, the only one that
keeps statistics; process RSS cannot show it, since freed buffers stay cached).
"""

import gc
import json
import os
import platform
import subprocess
import sys

import numpy as np

FIGURE1_METHODS = ("approx", "autodiff")


# ----------------------------------------------------------------------------- worker

#: Size of the allocator region reserved up front in CPU workers (see below).
CPU_RESERVED_REGION_BYTES = 3 * 2**30


def _reserve_allocator_region(num_bytes=CPU_RESERVED_REGION_BYTES):
    """Makes the CPU BFC allocator grow one large region now, untouched.

    The BFC allocator hands out a whole free chunk when it is less than twice
    the request, and counts the whole chunk as in use: in small, freshly grown
    regions a 9 MiB request could count as 16 MiB, so peaks read up to 2x
    high (seen as round 128.0 MiB figures). Requests split from one large
    region count their rounded size only. ``Empty(init=False)`` allocates
    without touching the pages, so this costs address space, not RAM.
    """
    import tensorflow as tf

    tf.raw_ops.Empty(shape=[num_bytes // 4], dtype=tf.float32, init=False)


def _train_step_memory(train_step, device):
    """Peak memory (MiB) that one training step allocates over what was live before it.

    TensorFlow's own allocator statistics; on CPU they exist when the worker
    runs with TF_CPU_ALLOCATOR_USE_BFC=true (set by :func:`_run_in_subprocess`).
    """
    import tensorflow as tf

    gc.collect()
    tf.config.experimental.reset_memory_stats(device)
    baseline = tf.config.experimental.get_memory_info(device)["current"]
    for _ in range(3):
        train_step()
    peak = tf.config.experimental.get_memory_info(device)["peak"]
    return (peak - baseline) / 2**20


def measure(
    arch,
    iterations=20,
    backward="approx",
    batch=50,
    repeats=10,
    jit=None,
    input_shape=(28, 28, 3),
    precision="float32",
    tf32=False,
    profile_layers=True,
):
    """Times and memory of one configuration, in this process. Returns a dict.

    ``precision`` is the Keras dtype policy (``float32``, ``mixed_bfloat16``,
    ...); the NMF iterations run in float32 under every policy. ``float32``
    means true float32 matmuls, as in training, unless ``tf32`` leaves
    TensorFlow's TF32 default on (the GPU speed that true float32 costs).
    ``profile_layers``: also time each NMF layer's forward against its
    iterations' matmuls (``nmf_layer_profile``; NMF networks only).
    """
    import tensorflow as tf

    from keras_nmf.architectures import arch_family
    from keras_nmf.benchmarks.timing import median_ms, paired_medians_ms
    from keras_nmf.models import count_parameters
    from keras_nmf.training.config import TrainConfig, for_arch
    from keras_nmf.training.recipe import build_compiled_model, process_settings, resolve_jit

    gpu = bool(tf.config.list_physical_devices("GPU"))
    if not gpu:
        _reserve_allocator_region()
    config = for_arch(TrainConfig.of(iterations=iterations, backward=backward, jit=jit, precision=precision), arch)
    jit = resolve_jit(config)
    with process_settings(precision, seed=0):  # as train.py: float32 without TF32; restored on return
        if tf32:
            tf.config.experimental.enable_tensor_float_32_execution(True)
        model = build_compiled_model(config, input_shape, 10, jit=jit)
        images = tf.random.uniform((batch,) + tuple(input_shape))
        labels = tf.constant(np.arange(batch) % 10)

        forward = tf.function(lambda x: model(x, training=True), jit_compile=jit)
        inference = tf.function(lambda x: model(x, training=False), jit_compile=jit)

        @tf.function(jit_compile=jit)
        def forward_backward(x, y):
            with tf.GradientTape() as tape:
                loss = model.loss(y, model(x, training=True))
            return tape.gradient(loss, model.trainable_variables)

        def train_step():
            model.train_on_batch(images, labels)

        for _ in range(2):  # warm-up: tracing and XLA compilation
            train_step()
        train_ms = median_ms(train_step, warmup=0, repeats=repeats)
        peak_memory = _train_step_memory(train_step, "GPU:0" if gpu else "CPU:0")

        profiled = profile_layers and arch_family(arch) == "nmf"
        profile = _profile_nmf_layers(model, images, jit, repeats) if profiled else []
        forward_backward_ms, forward_ms, backward_ms = paired_medians_ms(
            forward_backward, lambda x, y: forward(x), images, labels, repeats=repeats
        )
        inference_ms = median_ms(inference, images, repeats=repeats)
        return {
            "arch": arch,
            "iterations": iterations,
            "backward": backward,
            "jit_compile": jit,
            "precision": precision,
            "tf32": tf.config.experimental.tensor_float_32_execution_enabled(),
            "batch": batch,
            "parameters": count_parameters(model),
            "forward_ms": forward_ms,
            "backward_ms": backward_ms,
            "forward_backward_ms": forward_backward_ms,
            "train_step_ms": train_ms,
            "inference_ms": inference_ms,
            "train_images_per_s": batch / train_ms * 1e3,
            "inference_images_per_s": batch / inference_ms * 1e3,
            "peak_train_memory_mib": peak_memory,
            "nmf_layer_profile": profile,
            "memory_method": "TensorFlow allocator peak during a training step over the memory live before it",
            "device": "GPU" if gpu else "CPU",
        }


def _profile_nmf_layers(model, images, jit, repeats):
    """Forward time and achieved GFLOP/s of each CNMF2D layer, on its real input.

    FLOPs count the iterations' two matmuls per step (summed over groups), the
    bound that no implementation of eq. 6 avoids.
    """
    import keras
    import tensorflow as tf

    from keras_nmf.benchmarks.backends import iteration_matmuls_ms, nmf_problem_shape
    from keras_nmf.benchmarks.timing import median_ms, nmf_iteration_flops
    from keras_nmf.layers import CNMF2D

    layers = [layer for layer in model.layers if isinstance(layer, CNMF2D)]
    probe = keras.Model(model.inputs, [layer.input for layer in layers])
    layer_inputs = probe(images, training=True)
    rows = []
    for layer, layer_input in zip(layers, layer_inputs):
        patterns, size, _, _ = nmf_problem_shape(layer, layer_input.shape)
        flops = nmf_iteration_flops(patterns, size, layer.filters, layer.iterations)
        ms = median_ms(tf.function(layer, jit_compile=jit), layer_input, repeats=repeats)
        matmuls_ms = iteration_matmuls_ms(
            patterns, size, layer.filters, layer.groups, layer.iterations, repeats, jit=jit
        )
        rows.append(
            {
                "layer": layer.name,
                "patterns": patterns,
                "pattern_size": size,
                "filters": layer.filters,
                "groups": layer.groups,
                "forward_ms": ms,
                "iteration_gflop": flops / 1e9,
                "gflops": flops / ms / 1e6,
                "iteration_matmuls_ms": matmuls_ms,
            }
        )
    return rows


# ----------------------------------------------------------------------------- orchestration


def _run_in_subprocess(spec):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_CPU_ALLOCATOR_USE_BFC="true")
    result = subprocess.run(
        [sys.executable, "-m", "keras_nmf.benchmarks.backprop", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark worker failed for {spec}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _machine():
    import keras
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": [gpu.name for gpu in tf.config.list_physical_devices("GPU")],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }


def run(
    archs=("cnn", "cnmf", "cnn_1x1", "cnmf_1x1"),
    iterations=20,
    figure1_iterations=(5, 20, 50),
    batch=50,
    repeats=10,
    jit=None,
    precision="float32",
    tf32=False,
    progress=print,
):
    """Runs every configuration (one subprocess each) and returns the report dict.

    ``jit=None`` compiles each network as training does (``DEFAULT_JIT``);
    ``figure1_iterations=()`` skips Figure 1 (per-arch figures only).
    """
    common = {"batch": batch, "repeats": repeats, "jit": jit, "precision": precision, "tf32": tf32}
    architectures = {}
    for arch in archs:
        progress(f"measuring {arch} (N = {iterations}) ...")
        architectures[arch] = _run_in_subprocess({"arch": arch, "iterations": iterations, **common})
    cnn = architectures.get("cnn") or _run_in_subprocess({"arch": "cnn", **common})
    figure1 = []
    for n in figure1_iterations:
        for method in FIGURE1_METHODS:
            if n == iterations and method == "approx" and "cnmf_1x1" in architectures:
                entry = architectures["cnmf_1x1"]
            else:
                progress(f"measuring cnmf_1x1, backward={method}, N = {n} ...")
                entry = _run_in_subprocess(
                    {"arch": "cnmf_1x1", "iterations": n, "backward": method, "profile_layers": False, **common}
                )  # Figure 1 reads no profile
            figure1.append(
                {
                    "method": method,
                    "iterations": n,
                    "backward_ms": entry["backward_ms"],
                    "peak_train_memory_mib": entry["peak_train_memory_mib"],
                    "train_step_ms": entry["train_step_ms"],
                    "backward_vs_cnn": entry["backward_ms"] / cnn["backward_ms"],
                    "memory_vs_cnn": entry["peak_train_memory_mib"] / cnn["peak_train_memory_mib"],
                }
            )
    ratios = {}
    if "cnmf_1x1" in architectures:
        nmf = architectures["cnmf_1x1"]
        matmul_floor = sum(row["iteration_matmuls_ms"] for row in nmf["nmf_layer_profile"])
        ratios = {
            "cnmf_1x1_train_step_vs_cnn": nmf["train_step_ms"] / cnn["train_step_ms"],
            "cnmf_1x1_iteration_matmuls_ms": matmul_floor,
            "cnmf_1x1_iteration_matmuls_vs_cnn_step": matmul_floor / cnn["train_step_ms"],
            "cnmf_1x1_backward_vs_cnn": nmf["backward_ms"] / cnn["backward_ms"],
            "cnmf_1x1_memory_vs_cnn": nmf["peak_train_memory_mib"] / cnn["peak_train_memory_mib"],
        }
    return {
        "machine": _machine(),
        "method": {
            "batch": batch,
            "input_shape": [28, 28, 3],
            "classes": 10,
            "dtype": precision,
            "tf32": tf32,
            "repeats": repeats,
            "statistic": "median after 2 warm-up steps",
            "jit_compile": "as training runs it (XLA for NMF networks, not for CNNs)" if jit is None else jit,
            "backward_ms": "forward+loss+gradients minus forward (both tf.functions), median of back-to-back pairs",
            "train_step_ms": "model.train_on_batch (forward, eq. 21 loss, gradients, Adam update)",
            "memory": "each configuration in a fresh subprocess; "
            + cnn["memory_method"]
            + ("" if cnn["device"] == "GPU" else "; BFC allocator with one large region reserved up front"),
            "iteration_matmuls_ms": "the NMF iterations' matmuls alone at each layer's shapes (2 per step)",
        },
        "architectures": architectures,
        "ratios": ratios,
        "figure1": figure1,
    }


def plot_figure1(report, path):
    """A PNG in the style of the paper's Figure 1: memory and backward time relative to CNN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_nmf.files import atomic_save

    entries = report["figure1"]
    iterations = sorted({e["iterations"] for e in entries})
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / len(FIGURE1_METHODS)
    for axis, key, title in (
        (axes[0], "memory_vs_cnn", "Training-step peak memory"),
        (axes[1], "backward_vs_cnn", "Backward time"),
    ):
        for index, method in enumerate(FIGURE1_METHODS):
            values = [
                next(e[key] for e in entries if e["method"] == method and e["iterations"] == n) for n in iterations
            ]
            positions = [i + (index - (len(FIGURE1_METHODS) - 1) / 2) * width for i in range(len(iterations))]
            label = "one-step backward (eqs. 18-19)" if method == "approx" else "autodiff through N iterations"
            axis.bar(positions, values, width, label=label)
        axis.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        axis.set_xticks(range(len(iterations)), [f"N = {n}" for n in iterations])
        axis.set_ylabel("relative to CNN")
        axis.set_title(title)
    axes[0].legend(fontsize=8)
    figure.suptitle("cnmf_1x1 vs cnn, batch 50, 28x28x3 (" + report["machine"]["processor"] + ")")
    figure.tight_layout()
    atomic_save(path, lambda temporary: figure.savefig(temporary, dpi=100))
    plt.close(figure)


if __name__ == "__main__":  # worker entry point: python -m keras_nmf.benchmarks.backprop '{json spec}'
    print(json.dumps(measure(**json.loads(sys.argv[1]))))
