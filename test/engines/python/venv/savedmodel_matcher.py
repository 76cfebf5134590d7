"""A small OmniGlue-like matcher with random weights, saved as og_export is: a TF2 SavedModel, signature serving_default.

Run as a script: `python savedmodel_matcher.py OUT_DIR [--rename OLD=NEW] [--dtype NAME=DTYPE]`; the two options make the
wrong signatures the Job must refuse.

The signature is what google-research/omniglue calls (src/omniglue/omniglue_extract.py, OmniGlue.FindMatches and
_construct_inputs: `tf.saved_model.load(og_export).signatures['serving_default'](**inputs)`, then
`og_outputs['soft_assignment']`): twelve keyword inputs, float32 keypoints [B, N, 2], descriptors [B, N, 256], scores
[B, N, 1] and DINO descriptors [B, N, 768] per image, int32 width and height of shape [1] per image; one output
soft_assignment [B, N + 1, M + 1], the last row and column the dustbins. Static sizes of og_export beyond those are not
published, so batch and keypoint dims are left unknown here.

The network is SuperGlue-shaped (the OmniGlue paper, arXiv 2405.12979, section 3): keypoint positions normalised by
the image size and encoded with the scores, added to projected descriptors; self and cross attention whose logits the
DINO descriptors' similarity guides; dot-product scores, a dustbin and log-space Sinkhorn normalisation.
"""

from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf

IMAGE_INPUTS = (("keypoints", 2), ("descriptors", 256), ("scores", 1), ("descriptors", 768))
SINKHORN_ITERATIONS = 3
# Cosine similarity times this gives the random network confident matches between similar descriptors.
TEMPERATURE = 10.0


def input_specs(renames: dict[str, str] | None = None, dtypes: dict[str, str] | None = None) -> dict[str, tf.TensorSpec]:
    specs = {}
    for i in (0, 1):
        for (stem, width) in IMAGE_INPUTS:
            name = f"{stem}{i}_dino" if width == 768 else f"{stem}{i}"
            specs[name] = (tf.float32, [None, None, width])
        specs[f"width{i}"] = (tf.int32, [1])
        specs[f"height{i}"] = (tf.int32, [1])
    renames, dtypes = renames or {}, dtypes or {}
    return {
        renames.get(name, name): tf.TensorSpec(shape, tf.as_dtype(dtypes.get(name, dtype)), name=renames.get(name, name))
        for name, (dtype, shape) in specs.items()
    }


class Matcher(tf.Module):
    def __init__(self, *, dim: int = 64, layers: int = 2, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)

        def weight(*shape):
            return tf.Variable(rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape).astype(np.float32))

        self.dim = dim
        self.position = [weight(3, dim), weight(dim, dim)]
        self.project = weight(256, dim)
        self.attention = [[weight(dim, dim) for _ in range(4)] for _ in range(2 * layers)]
        self.final = weight(dim, dim)
        self.dustbin = tf.Variable(1.0)

    def _encode(self, keypoints, scores, descriptors, width, height):
        size = tf.cast(tf.concat([width, height], axis=0), tf.float32)  # [2], (x, y)
        normalised = (keypoints - size / 2.0) / (tf.reduce_max(size) * 0.7)
        position = tf.nn.relu(tf.concat([normalised, scores], axis=-1) @ self.position[0]) @ self.position[1]
        return descriptors @ self.project + 0.1 * position

    def _attend(self, weights, x, source, guide):
        query, key, value, out = weights
        logits = tf.matmul(x @ query, source @ key, transpose_b=True) / np.sqrt(self.dim) + guide
        return x + 0.1 * (tf.nn.softmax(logits, axis=-1) @ (source @ value)) @ out

    def _sinkhorn(self, scores):
        """Log-space optimal transport with a dustbin row and column (SuperGlue's formulation)."""
        n, m = tf.shape(scores)[1], tf.shape(scores)[2]
        batch = tf.shape(scores)[0]
        bins_col = tf.fill([batch, n, 1], self.dustbin)
        bins_row = tf.fill([batch, 1, m + 1], self.dustbin)
        couplings = tf.concat([tf.concat([scores, bins_col], axis=2), bins_row], axis=1)
        nf, mf = tf.cast(n, tf.float32), tf.cast(m, tf.float32)
        norm = -tf.math.log(nf + mf)
        log_mu = tf.concat([tf.fill([n], norm), [tf.math.log(mf) + norm]], axis=0)[None]
        log_nu = tf.concat([tf.fill([m], norm), [tf.math.log(nf) + norm]], axis=0)[None]
        u, v = tf.zeros_like(log_mu), tf.zeros_like(log_nu)
        for _ in range(SINKHORN_ITERATIONS):
            u = log_mu - tf.reduce_logsumexp(couplings + v[:, None, :], axis=2)
            v = log_nu - tf.reduce_logsumexp(couplings + u[:, :, None], axis=1)
        return couplings + u[:, :, None] + v[:, None, :] - norm

    def match(self, inputs: dict) -> dict:
        x0 = self._encode(inputs["keypoints0"], inputs["scores0"], inputs["descriptors0"], inputs["width0"], inputs["height0"])
        x1 = self._encode(inputs["keypoints1"], inputs["scores1"], inputs["descriptors1"], inputs["width1"], inputs["height1"])
        dino0 = tf.math.l2_normalize(inputs["descriptors0_dino"], axis=-1)
        dino1 = tf.math.l2_normalize(inputs["descriptors1_dino"], axis=-1)
        guide = {(a, b): tf.matmul(da, db, transpose_b=True) for a, da in ((0, dino0), (1, dino1)) for b, db in ((0, dino0), (1, dino1))}
        for i in range(0, len(self.attention), 2):
            x0, x1 = self._attend(self.attention[i], x0, x0, guide[0, 0]), self._attend(self.attention[i], x1, x1, guide[1, 1])
            x0, x1 = (self._attend(self.attention[i + 1], x0, x1, guide[0, 1]), self._attend(self.attention[i + 1], x1, x0, guide[1, 0]))
        m0 = tf.math.l2_normalize(x0 @ self.final, axis=-1)
        m1 = tf.math.l2_normalize(x1 @ self.final, axis=-1)
        scores = TEMPERATURE * tf.matmul(m0, m1, transpose_b=True)
        return {"soft_assignment": tf.exp(self._sinkhorn(scores))}


def build(out_dir: str, *, renames: dict[str, str] | None = None, dtypes: dict[str, str] | None = None) -> None:
    matcher = Matcher()
    specs = input_specs(renames, dtypes)
    back = {new: old for old, new in (renames or {}).items()}

    def serve(**inputs):
        # A wrong dtype is cast back, as a model built for it would compute: the signature alone is wrong.
        inputs = {back.get(name, name): value for name, value in inputs.items()}
        inputs = {name: tf.cast(value, tf.int32 if name.startswith(("width", "height")) else tf.float32) for name, value in inputs.items()}
        return matcher.match(inputs)

    concrete = tf.function(serve).get_concrete_function(**specs)
    tf.saved_model.save(matcher, out_dir, signatures={"serving_default": concrete})


def _pairs(values: list[str]) -> dict[str, str]:
    return dict(value.split("=", 1) for value in values)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    parser.add_argument("--dtype", action="append", default=[], metavar="NAME=DTYPE")
    args = parser.parse_args()
    build(args.out_dir, renames=_pairs(args.rename), dtypes=_pairs(args.dtype))
