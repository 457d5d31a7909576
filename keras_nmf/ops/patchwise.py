"""Convolutional NMF from images, with a recomputing, chunked one-step backward.

:func:`patchwise_nmf` is :func:`keras_nmf.ops.nmf` (one-step or implicit backward) applied to the
L1-normalised patterns of an image batch, written so that a training step
needs about a CNN's memory (Nouri et al., eqs. 18-19 and Figure 1):

* the custom gradient keeps only the images, W and the final h, the same
  tensors a convolution keeps (its input, kernel and output); the patterns,
  ``kh * kw`` times larger than the images, are rebuilt in the backward;
* the batch is processed in chunks of ``images_per_chunk`` images, forward
  (all N iterations of eq. 6 on one chunk at a time) and backward (eqs.
  18-19), so the iteration temporaries (R, x / R, each P x S) are those of
  one chunk, not of the batch.

The math is exactly that of :mod:`keras_nmf.ops.nmf`; only the order in which
patterns are visited differs.
"""

import keras
from keras import ops

from keras_nmf import backend
from keras_nmf.ops.nmf import BACKWARD_SCOPE, NMFOptions, backward_gradients, nmf, nmf_iterations
from keras_nmf.ops.patches import split_groups


def _chunking(batch, images_per_chunk):
    """(chunks, images per chunk): as few chunks as the limit allows, as even as possible (little padding).

    At least one chunk of one image: a replica of a distributed step can get an
    empty batch, which must not divide by zero. ``batch`` is an int where the
    shape is static (always on JAX), else a scalar tensor (TensorFlow's None batch).
    """
    if isinstance(batch, int):
        chunks = max(-(-batch // images_per_chunk), 1)
        return chunks, max(-(-batch // chunks), 1)
    chunks = ops.maximum((batch + images_per_chunk - 1) // images_per_chunk, 1)
    return chunks, ops.maximum((batch + chunks - 1) // chunks, 1)


def _to_chunks(tensor, chunks, images_per_chunk):
    """(B, ...) -> (chunks, images_per_chunk, ...), zero-padding the batch."""
    padding = chunks * images_per_chunk - ops.shape(tensor)[0]
    padded = ops.pad(tensor, [[0, padding]] + [[0, 0]] * (len(tensor.shape) - 1))
    return ops.reshape(padded, (chunks, images_per_chunk) + tuple(ops.shape(tensor)[1:]))


def _from_chunks(chunked, batch):
    """(chunks, images_per_chunk, ...) -> (batch, ...), dropping the padding."""
    return ops.reshape(chunked, (-1,) + tuple(ops.shape(chunked)[2:]))[:batch]


def _patterns_by_image(patterns, batch):
    """([G,] B*Q, X) rows (batch-major) -> (B, [G,] Q, X), Q rows per image."""
    if len(patterns.shape) == 2:
        return ops.reshape(patterns, (batch, -1, patterns.shape[-1]))
    groups = patterns.shape[0]
    per_image = ops.reshape(patterns, (groups, batch, -1, patterns.shape[-1]))
    return ops.transpose(per_image, (1, 0, 2, 3))


def _patterns_by_row(per_image):
    """(b, [G,] Q, X) -> ([G,] b*Q, X), the inverse of :func:`_patterns_by_image`."""
    if len(per_image.shape) == 3:
        return ops.reshape(per_image, (-1, per_image.shape[-1]))
    per_image = ops.transpose(per_image, (1, 0, 2, 3))
    return ops.reshape(per_image, (per_image.shape[0], -1, per_image.shape[-1]))


def observed_patterns(geometry, observed):
    """The patterns of an image-shaped mask (1 observed, 0 missing); "same" padding counts as observed.

    The plain layer explains the zero padding like any other entry, so a mask
    of ones must give the plain layer: the padding is made 1 by patching 1 - m.
    """
    return 1.0 - geometry.patterns(1.0 - observed)


def patchwise_nmf(
    images,
    w,
    geometry,
    options=NMFOptions(),
    images_per_chunk=None,
    fallback_counter=None,
    observed=None,
    initial_h=None,
):
    """NMF of every image patch (eq. 6); the one-step and implicit backwards recompute the patches.

    Args:
        images: float32 (B, H, W, C), non-negative.
        w: float32 ([G,] S, I) NMF weights (eq. 20).
        geometry: the patches (:class:`keras_nmf.ops.patches.PatchGeometry`):
            ``geometry.patterns`` gives a batch's ([G,] b*Q, S) patterns, Q per
            image in batch-major order; it is differentiated in the backward to
            carry eq. 19 to the images.
        options: :class:`keras_nmf.ops.nmf.NMFOptions`: ``backward`` ``"approx"``
            (eqs. 18-19) or ``"implicit"`` (the exact fixed-point gradient, its
            I x I systems solved chunk by chunk too); ``"autodiff"`` is
            :func:`keras_nmf.ops.nmf` on all the patterns at once.
        images_per_chunk: images processed at a time, or None for the whole
            batch at once.
        fallback_counter: see :func:`keras_nmf.ops.nmf.backward_gradients`.
        observed: None, or a mask of the images' shape (1 observed, 0 missing), chunked with them
            (:func:`observed_patterns`).
        initial_h: None (h(0) = 1/I), or h(0) in the layer's output layout (B, H', W', I), chunked with the
            images; data for the one-step and implicit backwards, differentiated with ``"autodiff"``.

    Returns:
        float32 ([G,] B*Q, I): h(N) for every patch, as ``nmf_approx`` on
        ``to_patterns(images)`` returns it (same values, same gradients).
    """

    # The weights are passed into every function below rather than closed
    # over: JAX's custom gradient must see each differentiated value as an argument.
    # The mask and h(0) are data: closed over, and chunked beside the images.
    def mask_of(mask_chunk):
        return None if mask_chunk is None else observed_patterns(geometry, mask_chunk)

    def start_of(h_chunk):
        """h(0) of a chunk, (b, H', W', I) -> ([G,] b*Q, I/G), as the patterns are ordered."""
        return None if h_chunk is None else split_groups(h_chunk, geometry.groups, h_chunk.shape[-1])

    def infer(image_chunk, weights, mask_chunk, start_chunk=None):
        """h(N) of a chunk's patterns, ([G,] b*Q, I)."""
        return nmf_iterations(
            geometry.patterns(image_chunk), weights, options, mask_of(mask_chunk), initial_h=start_of(start_chunk)
        )

    def chunk_gradients(image_chunk, weights, h_chunk, upstream_chunk, mask_chunk):
        """Eqs. 18-19 on one chunk, patterns rebuilt: (dL/d images, dL/dW)."""
        with keras.name_scope(BACKWARD_SCOPE):
            x = geometry.patterns(image_chunk)
            grad_x, grad_w = backward_gradients(
                x, weights, h_chunk, upstream_chunk, options, fallback_counter, mask_of(mask_chunk)
            )
            return backend.vjp(geometry.patterns, image_chunk, grad_x), grad_w

    # The backward functions take (*args, upstream=None): PyTorch passes the
    # upstream gradient by keyword, TensorFlow and JAX as the only argument.
    @backend.custom_gradient
    def _whole_batch(images, weights):
        h = infer(images, weights, observed, initial_h)

        def grad(*args, upstream=None):
            return chunk_gradients(images, weights, h, args[0] if upstream is None else upstream, observed)

        return h, grad

    @backend.custom_gradient
    def _in_chunks(images, weights):
        batch = ops.shape(images)[0]
        chunks, per_chunk = _chunking(batch, images_per_chunk)
        image_chunks = _to_chunks(images, chunks, per_chunk)
        # The chunks of the mask and of h(0), where given, travel as the last items of each chunk tuple.
        masks = () if observed is None else (_to_chunks(observed, chunks, per_chunk),)
        starts = () if initial_h is None else (_to_chunks(initial_h, chunks, per_chunk),)

        def forward_chunk(chunk):  # (images, [mask], [h(0)])
            mask = chunk[1] if masks else None
            start = chunk[-1] if starts else None
            return _patterns_by_image(infer(chunk[0], weights, mask, start), per_chunk)

        # (chunks, per_chunk, [G,] Q, I)
        h_chunks = backend.map_chunks(forward_chunk, (image_chunks, *masks, *starts), "float32")
        h = _patterns_by_row(_from_chunks(h_chunks, batch))

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            upstream_chunks = _to_chunks(_patterns_by_image(upstream, batch), chunks, per_chunk)
            grad_image_chunks, grad_w_chunks = backend.map_chunks(
                lambda chunk: chunk_gradients(  # (images, h, upstream, [mask])
                    chunk[0],
                    weights,
                    _patterns_by_row(chunk[1]),
                    _patterns_by_row(chunk[2]),
                    chunk[3] if masks else None,
                ),
                (image_chunks, h_chunks, upstream_chunks, *masks),
                ("float32", "float32"),
            )
            return _from_chunks(grad_image_chunks, batch), ops.sum(grad_w_chunks, axis=0)

        return h, grad

    if options.through_iterations:  # nothing to recompute: autodiff keeps every iteration anyway
        return nmf(geometry.patterns(images), w, options, observed=mask_of(observed), initial_h=start_of(initial_h))
    batch = images.shape[0]
    # An int, None (TensorFlow's unknown batch: chunked with tensors), or a symbolic dimension (JAX's export to
    # ONNX traces a batch of any size): that has no backward to keep small, and runs as one batch.
    symbolic = batch is not None and not isinstance(batch, int)
    if images_per_chunk is None or symbolic or (isinstance(batch, int) and batch <= images_per_chunk):
        return _whole_batch(images, w)
    return _in_chunks(images, w)
