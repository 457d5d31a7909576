"""Training step of the paper's networks on each Keras backend, against the floor of the NMF iterations' matmuls.

For each backend (one subprocess each, ``KERAS_BACKEND`` set before Keras is
imported) and each architecture: the median time of ``model.train_on_batch``
(forward, eq. 21 loss, gradients, the recipe's Adam update, compiled as
training compiles it on that backend). For the NMF networks also the *floor*:
the time of the iterations' two matmuls per step (R = W h, then W^T times a
P x S operand; Nouri et al., eq. 6), N times, at every CNMF2D layer's shapes,
compiled alone on the same backend in the same process. No implementation of
eq. 6 on that backend's matmul kernels undercuts it; ``step / floor`` says how
much the rest of the step (the divisions and normalisations of eq. 6, the
one-step backward of eqs. 18-19, the 1x1 convolutions, BatchNorm, Adam) adds.
"""

import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

#: The backends this benchmark can measure, and those it measures unless told (PyTorch: ``--backends torch``).
BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKENDS = ("tensorflow", "jax")


def nmf_problem_shape(layer, input_shape):
    """(patterns, pattern size, filters, groups) of a ``CNMF2D`` layer's NMF problem for an input of ``input_shape``."""
    batch, rows, cols, _ = layer.compute_output_shape(tuple(input_shape))
    size = layer.kernel_size[0] * layer.kernel_size[1] * input_shape[-1] // layer.groups
    return batch * rows * cols, size, layer.filters, layer.groups


def _nmf_layer_shapes(model, batch):
    """:func:`nmf_problem_shape` of each CNMF2D layer for a batch of ``batch`` images."""
    from keras_nmf.layers import CNMF2D

    return [
        nmf_problem_shape(layer, (batch,) + tuple(layer.input.shape[1:]))
        for layer in model.layers
        if isinstance(layer, CNMF2D)
    ]


def iteration_matmuls_ms(patterns, size, filters, groups, iterations, repeats, jit=True):
    """Median time of the N iterations' matmuls alone at one layer's shapes, compiled on the active backend
    (on TensorFlow: a ``tf.function``, with XLA if ``jit``)."""
    import keras

    from keras_nmf.benchmarks.timing import compiled, median_ms

    batch_shape = (groups,) if groups > 1 else ()
    hidden = filters // groups
    # Entries ~ 1/sqrt(S I): each R -> u round trip keeps values near 1 (no overflow, no denormals).
    w = keras.random.uniform(batch_shape + (size, hidden), maxval=2.0 / (size * hidden) ** 0.5, seed=0)
    h = keras.ops.full(batch_shape + (patterns, hidden), 1.0 / hidden)

    def matmuls(h, w):
        w_t = keras.ops.swapaxes(w, -1, -2)
        for _ in range(iterations):
            h = keras.ops.matmul(keras.ops.matmul(h, w_t), w)
        return keras.ops.sum(h)

    return median_ms(compiled(matmuls, jit=jit), h, w, repeats=repeats)


def measure(arch, batch=50, iterations=20, repeats=10, precision="float32", input_shape=(28, 28, 3)):
    """One architecture on the active backend, in this process: a dict of figures."""
    import keras

    from keras_nmf.benchmarks.timing import median_ms
    from keras_nmf.training.config import TrainConfig, for_arch
    from keras_nmf.training.recipe import build_compiled_model, process_settings, resolve_jit

    config = for_arch(TrainConfig.of(iterations=iterations, precision=precision), arch)
    jit = resolve_jit(config)
    with process_settings(precision, seed=0) as resolved:
        model = build_compiled_model(config, input_shape, 10, jit=jit)
        images = np.random.default_rng(0).uniform(0, 1, (batch,) + tuple(input_shape)).astype("float32")
        labels = np.arange(batch) % 10
        step_ms = median_ms(lambda: model.train_on_batch(images, labels), repeats=repeats)
        forward_ms = median_ms(lambda: model.predict_on_batch(images), repeats=repeats)
        floor = [iteration_matmuls_ms(*shape, iterations, repeats) for shape in _nmf_layer_shapes(model, batch)]
    figures = {
        "arch": arch,
        "backend": keras.backend.backend(),
        "precision": resolved,
        "jit_compile": jit,
        "batch": batch,
        "iterations": iterations,
        "train_step_ms": step_ms,
        "train_images_per_s": batch / step_ms * 1e3,
        "forward_ms": forward_ms,
    }
    if floor:
        figures["iteration_matmuls_ms"] = sum(floor)
        figures["step_vs_iteration_matmuls"] = step_ms / sum(floor)
        figures["forward_vs_iteration_matmuls"] = forward_ms / sum(floor)
    return figures


def epoch_seconds(
    arch="cnmf_1x1",
    train_images=50_000,
    test_images=10_000,
    precision="float32",
    iterations=None,
    input_shape=(28, 28, 3),
):
    """One CIFAR-10-sized epoch on random images: ``fit`` over ``train_images``, then ``evaluate`` on ``test_images``.

    For hosts without TensorFlow (no tf.data, so no image pipeline): random
    uniform images of the cropped CIFAR-10 shape stand in for the data, at the
    recipe's batch size, compiled as training compiles it. The first epoch's
    time includes compilation; the second, timed on its own, does not.
    ``iterations``: N (eq. 6); None takes the recipe's.

    Returns:
        dict: seconds of the first and second epoch, of the evaluation, and images/s of the second epoch.
    """
    from keras_nmf.training.config import TrainConfig
    from keras_nmf.training.recipe import build_compiled_model, process_settings, resolve_jit

    config = TrainConfig.of(
        arch=arch, precision=precision, **({} if iterations is None else {"iterations": iterations})
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (train_images,) + tuple(input_shape)).astype("float32")
    labels = rng.integers(0, 10, train_images)
    with process_settings(precision, seed=0) as resolved:
        model = build_compiled_model(config, input_shape, 10, jit=resolve_jit(config))
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            model.fit(images, labels, batch_size=config.optimisation.batch_size, epochs=1, verbose=0)
            seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.evaluate(images[:test_images], labels[:test_images], batch_size=config.optimisation.batch_size, verbose=0)
        evaluate_seconds = time.perf_counter() - start
    return {
        "arch": arch,
        "precision": resolved,
        "iterations": config.model.iterations,
        "data": "random images (no tf.data here)",
        "train_images": train_images,
        "test_images": test_images,
        "batch": config.optimisation.batch_size,
        "first_epoch_s": seconds[0],
        "epoch_s": seconds[1],
        "evaluate_s": evaluate_seconds,
        "train_images_per_s": train_images / seconds[1],
    }


def _versions():
    import keras

    versions = {"keras": keras.__version__, "python": platform.python_version()}
    for name in ("tensorflow", "jax", "torch"):
        if name in sys.modules:
            versions[name] = sys.modules[name].__version__
    return versions


def _worker(spec):
    """Runs in a subprocess: every architecture of ``spec`` on the backend its environment names."""
    results = [measure(arch, **spec["settings"]) for arch in spec["archs"]]
    report = {"versions": _versions(), "results": results}
    if spec.get("epoch"):
        report["epoch"] = epoch_seconds(precision=spec["settings"].get("precision", "float32"), **spec["epoch"])
    return report


def run(backends=DEFAULT_BACKENDS, archs=("cnn", "cnmf_1x1"), epoch=None, progress=print, **settings):
    """Each backend in a fresh subprocess; returns ``{"machine": ..., "backends": {backend: worker result}}``.

    ``epoch``: None, or the keyword arguments of :func:`epoch_seconds` (its ``arch``, image counts) to time
    one epoch as well.
    """
    report = {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "settings": settings,
        "backends": {},
    }
    for backend in backends:
        progress(f"measuring {', '.join(archs)} on {backend} ...")
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        spec = json.dumps({"archs": list(archs), "settings": settings, "epoch": epoch})
        result = subprocess.run(
            [sys.executable, "-m", "keras_nmf.benchmarks.backends", spec], capture_output=True, text=True, env=env
        )
        if result.returncode != 0:
            raise RuntimeError(f"benchmark worker failed on {backend}:\n{result.stderr[-3000:]}")
        report["backends"][backend] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def table(report):
    """The report as Markdown rows: backend, arch, step ms, img/s, forward ms, floor ms, step and forward / floor."""
    lines = [
        "| backend | arch | train step ms | train img/s | inference forward ms | iterations' matmuls ms | "
        "step / matmuls | forward / matmuls |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, figures in report["backends"].items():
        for r in figures["results"]:
            floor = f"{r['iteration_matmuls_ms']:.1f}" if "iteration_matmuls_ms" in r else "-"
            ratios = [
                f"{r[key]:.2f}" if key in r else "-"
                for key in ("step_vs_iteration_matmuls", "forward_vs_iteration_matmuls")
            ]
            lines.append(
                f"| {backend} | {r['arch']} | {r['train_step_ms']:.1f} | {r['train_images_per_s']:.0f} | "
                f"{r['forward_ms']:.1f} | {floor} | {' | '.join(ratios)} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":  # worker entry point: python -m keras_nmf.benchmarks.backends '{json spec}'
    print(json.dumps(_worker(json.loads(sys.argv[1]))))
