"""The authors' PyTorch networks (github mahbodnr/deep_nmf) beside ours: a training step and an epoch, one device.

Their code is imported at run time from a folder given by the caller
(``../shared/reference/deep_nmf``, or a git-ignored copy carried to a GPU host),
never copied into this package. Each side runs in its own subprocess:

* **theirs**: their network from ``tools/make_network.py`` and their
  ``configs/networks/cnnmf_1x1cnn.json`` (N = 20), with its neuron types set
  for each arch (its spec's ``reference_neuron_types``), their loss (``tools/loss_function.py``
  with ``configs/config_lr_parameter.json``) and their four Adam optimisers
  (``tools/make_optimize.py``); one step is their loop body (zero the
  gradients, forward, loss, ``loss.item()``, backward, step), on a batch of
  random images already on the device. The epoch is that step over
  ``epoch_images`` random images, without their data loader.
* **ours**: :func:`keras_nmf.benchmarks.backends.measure` (``train_on_batch``,
  compiled as training compiles it) and :func:`~keras_nmf.benchmarks.backends.epoch_seconds`
  (``fit`` over random images, through Keras's data adapter) on each backend asked for.

Both sides take float32 28 x 28 x 3 crops at batch 50 (the paper's), with TF32
off, and report the median step over ``repeats`` after warm-up steps, and each
network's trainable parameters (the same count on both sides says it is the same network).
"""

import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from keras_nmf.architectures import network_spec
from keras_nmf.errors import MissingFileError

#: Their network config that every arch starts from (the paper's cnmf_1x1).
REFERENCE_CONFIG = "configs/networks/cnnmf_1x1cnn.json"
#: The files of theirs this benchmark uses (checked before anything runs).
REFERENCE_FILES = (
    "tools/make_network.py",
    "tools/loss_function.py",
    "tools/make_optimize.py",
    "configs/config_lr_parameter.json",
    REFERENCE_CONFIG,
)
INPUT_SHAPE = (28, 28, 3)


def check_reference_dir(path):
    """``path`` as a folder of the authors' code, or a ``FileNotFoundError`` naming what is missing and the fix."""
    folder = pathlib.Path(path)
    missing = [name for name in REFERENCE_FILES if not (folder / name).is_file()]
    if missing:
        raise MissingFileError(
            f"{folder} is not a copy of the authors' code (github mahbodnr/deep_nmf): {', '.join(missing)} "
            f"missing. Pass the folder that holds tools/ and configs/, e.g. ../shared/reference/deep_nmf."
        )
    return folder.resolve()


def _read_json_with_comments(path):
    from jsmin import jsmin  # their configs are JSON with comments; their requirements.txt names jsmin

    return json.loads(jsmin(pathlib.Path(path).read_text()))


def _their_network_config(reference_dir, arch):
    """A temporary copy of their cnmf_1x1 config with ``arch``'s neuron types; returns its path."""
    config = _read_json_with_comments(pathlib.Path(reference_dir) / REFERENCE_CONFIG)
    blocks = len(config["type_of_neuron_a"])
    kxk, mixing = network_spec(arch).reference_neuron_types
    config.update(type_of_neuron_a=[kxk] * blocks, type_of_neuron_b=[mixing] * blocks)
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=f"deep_nmf-{arch}-", delete=False) as handle:
        json.dump(config, handle)
    return handle.name


def their_figures(reference_dir, arch, batch=50, repeats=10, warmup=3, epoch_images=None):
    """Their network's training step (and epoch) on the default device: runs in a PyTorch process."""
    import torch

    sys.path.insert(0, str(reference_dir))
    from tools.loss_function import loss_function
    from tools.make_network import make_network
    from tools.make_optimize import make_optimize

    torch.backends.cuda.matmul.allow_tf32 = False  # true float32, as ours (TrainConfig precision float32)
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    rows, cols, channels = INPUT_SHAPE
    config_path = _their_network_config(reference_dir, arch)
    try:
        network, parameters, _ = make_network(rows, cols, channels, device, config_path)
    finally:
        os.unlink(config_path)
    rates = _read_json_with_comments(pathlib.Path(reference_dir) / "configs" / "config_lr_parameter.json")
    optimizers, _ = make_optimize(
        parameters,
        [
            rates["lr_initial_neuron_a"],
            rates["lr_initial_neuron_b"],
            rates["lr_initial_norm"],
            rates["lr_initial_batchnorm2d"],
        ],
    )
    optimizers = [optimizer for optimizer in optimizers if optimizer is not None]
    network.train()
    images = torch.rand((batch, channels, rows, cols), device=device)
    labels = torch.arange(batch, device=device) % 10

    def step(images=images, labels=labels):
        for optimizer in optimizers:
            optimizer.zero_grad()
        output = network(images)
        loss = loss_function(
            h=output,
            labels=labels,
            number_of_output_neurons=output.shape[1],
            loss_mode=int(rates["loss_mode"]),
            loss_coeffs_mse=float(rates["loss_coeffs_mse"]),
            loss_coeffs_kldiv=float(rates["loss_coeffs_kldiv"]),
        )
        loss.item()  # their loop reads the loss every step (and so waits for the device)
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()

    def timed(fn):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for _ in range(warmup):
        step()
    step_ms = statistics.median(timed(step) * 1e3 for _ in range(repeats))
    figures = {
        "side": "theirs",
        "arch": arch,
        "framework": f"PyTorch {torch.__version__}",
        "device": str(device),
        "parameters": sum(p.numel() for group in parameters for p in group),
        "batch": batch,
        "train_step_ms": step_ms,
        "train_images_per_s": batch / step_ms * 1e3,
    }
    if epoch_images:
        steps = max(1, epoch_images // batch)
        batches = [(torch.rand((batch, channels, rows, cols), device=device), labels) for _ in range(min(steps, 20))]
        seconds = timed(lambda: [step(*batches[index % len(batches)]) for index in range(steps)])
        figures.update(epoch_images=steps * batch, epoch_s=seconds, epoch_images_per_s=steps * batch / seconds)
    return figures


def our_figures(arch, batch=50, repeats=10, epoch_images=None):
    """Our network's training step (and epoch) on the active Keras backend, float32, N = 20."""
    import keras

    from keras_nmf import backend
    from keras_nmf.benchmarks.backends import epoch_seconds, measure
    from keras_nmf.models import build_model, count_parameters

    parameters = count_parameters(build_model(arch, input_shape=INPUT_SHAPE, num_classes=10))["trainable"]
    step = measure(arch, batch=batch, iterations=20, repeats=repeats, precision="float32", input_shape=INPUT_SHAPE)
    figures = {
        "side": "ours",
        "arch": arch,
        "framework": f"keras_nmf on {keras.backend.backend()}",
        "device": "gpu" if backend.gpu_compute_capability() else "cpu",
        "parameters": parameters,
        "batch": batch,
        "jit_compile": step["jit_compile"],
        "train_step_ms": step["train_step_ms"],
        "train_images_per_s": step["train_images_per_s"],
    }
    if epoch_images:
        epoch = epoch_seconds(
            arch, train_images=epoch_images, test_images=batch, precision="float32", input_shape=INPUT_SHAPE
        )
        figures.update(
            epoch_images=epoch_images, epoch_s=epoch["epoch_s"], epoch_images_per_s=epoch["train_images_per_s"]
        )
    return figures


def _worker(spec):
    """In a subprocess: every arch of ``spec`` on one side."""
    if spec["side"] == "theirs":
        return [their_figures(spec["reference_dir"], arch, **spec["settings"]) for arch in spec["archs"]]
    return [our_figures(arch, **spec["settings"]) for arch in spec["archs"]]


def _run_worker(spec, backend, timeout):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "keras_nmf.benchmarks.reference", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the {spec['side']} worker ({backend}) failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(
    reference_dir,
    backends=("jax",),
    archs=("cnn", "cnmf_1x1"),
    batch=50,
    repeats=10,
    epoch_images=None,
    timeout=None,
    progress=print,
):
    """Theirs (PyTorch) and ours (each of ``backends``) one after another on this machine's default device.

    Returns ``{"machine", "settings", "results": [figures of each side and arch], "ratios": ...}``; a ratio is
    our images/s over theirs for the same arch (above 1: ours is faster).
    """
    reference_dir = check_reference_dir(reference_dir)
    settings = {"batch": batch, "repeats": repeats, "epoch_images": epoch_images}
    progress(f"timing the authors' {', '.join(archs)} (PyTorch) ...", flush=True)
    results = _run_worker(
        {"side": "theirs", "reference_dir": str(reference_dir), "archs": list(archs), "settings": settings},
        "torch",
        timeout,
    )
    for backend in backends:
        progress(f"timing ours on {backend} ...", flush=True)
        results += _run_worker({"side": "ours", "archs": list(archs), "settings": settings}, backend, timeout)
    theirs = {r["arch"]: r for r in results if r["side"] == "theirs"}
    ratios = []
    for ours in (r for r in results if r["side"] == "ours"):
        ratio = {
            "arch": ours["arch"],
            "ours": ours["framework"],
            "step_speedup": ours["train_images_per_s"] / theirs[ours["arch"]]["train_images_per_s"],
        }
        if "epoch_s" in ours:
            ratio["epoch_speedup"] = theirs[ours["arch"]]["epoch_s"] / ours["epoch_s"]
        ratios.append(ratio)
    return {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "settings": settings,
        "results": results,
        "ratios": ratios,
    }


def table(report):
    """The report as Markdown: one row per side and arch, then ours / theirs."""
    lines = [
        "| arch | code | device | parameters | train step ms | train img/s | epoch s (images) | ours / theirs, img/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    speedups = {(r["arch"], r["ours"]): r for r in report["ratios"]}
    for r in report["results"]:
        epoch = f"{r['epoch_s']:.1f} ({r['epoch_images']})" if "epoch_s" in r else "-"
        ratio = speedups.get((r["arch"], r["framework"]))
        speedup = f"{ratio['step_speedup']:.2f}" if ratio else "-"
        lines.append(
            f"| {r['arch']} | {r['side']}: {r['framework']} | {r['device']} | {r['parameters']:,} | "
            f"{r['train_step_ms']:.1f} | {r['train_images_per_s']:.0f} | {epoch} | {speedup} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # worker entry point: python -m keras_nmf.benchmarks.reference '{json spec}'
    print(json.dumps(_worker(json.loads(sys.argv[1]))))
