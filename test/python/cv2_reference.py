"""numpy re-implementation of the OpenCV calls the reference's preprocessing makes, for parity tests.

A port of test/support/omniglue-reference.ts (cv2ResizeLinear), which follows OpenCV imgproc/src/resize.cpp
(cv::hal::resize, CV_8U INTER_LINEAR, vertical pass as VResizeLinearVec_32s8u), and google-research/omniglue
dino_extract.py (_resize_input_image, _process_image): what the throughput mode's DINOv2 preprocessing computes.
"""

from __future__ import annotations

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def _taps(in_size: int, out_size: int, clamp_fraction: bool):
    scale = 1.0 / (out_size / in_size)  # double, as OpenCV computes it
    position = ((np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    lower = np.floor(position).astype(np.int64)
    fraction = (position - lower.astype(np.float32)).astype(np.float32)
    if clamp_fraction:
        below, beyond = lower < 0, lower >= in_size - 1
        fraction = np.where(below | beyond, np.float32(0), fraction)
        lower = np.where(below, 0, np.where(beyond, in_size - 1, lower))
    w0 = np.rint((np.float32(1) - fraction) * np.float32(2048)).astype(np.int64)  # cvRound: half to even
    w1 = np.rint(fraction * np.float32(2048)).astype(np.int64)
    return np.clip(lower, 0, in_size - 1), np.clip(lower + 1, 0, in_size - 1), w0, w1


def cv2_resize_linear(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_LINEAR) of a uint8 [H, W, C] image."""
    height, width = image.shape[:2]
    pixels = image.astype(np.int64)
    x0, x1, wx0, wx1 = _taps(width, out_w, True)
    y0, y1, wy0, wy1 = _taps(height, out_h, False)
    rows = pixels[:, x0] * wx0[None, :, None] + pixels[:, x1] * wx1[None, :, None]  # [H, out_w, C], exact
    top = ((rows[y0] >> 4) * wy0[:, None, None]) >> 16
    bottom = ((rows[y1] >> 4) * wy1[:, None, None]) >> 16
    return np.minimum(255, (top + bottom + 2) >> 2).astype(np.uint8)


def dinov2_input(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """dino_extract.py _process_image after the resize: (x / 255 - mean) / std in float64, then float32, [1, 3, H, W]."""
    unit = cv2_resize_linear(image, out_h, out_w).astype(np.float64) / 255.0
    return ((unit - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32).transpose(2, 0, 1)[None]
