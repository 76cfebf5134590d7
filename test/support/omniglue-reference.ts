/**
 * The reference's math, re-implemented from reading google-research/omniglue (src/omniglue/*.py) and the OpenCV
 * functions it calls, for parity tests of the glue graphs. Each function names the upstream file and function it
 * follows. Plain JavaScript numbers are doubles, like numpy's float64 in the reference; float32 steps are marked.
 */

/** omniglue superpoint_extract.py SuperPointExtract._resize_input_image: each side to the nearest multiple of 8. */
export function superpointSize(side: number): number {
  const remainder = side % 8;
  return remainder < 4 ? side - remainder : side + (8 - remainder);
}

/** omniglue dino_extract.py DINOExtract._resize_input_image: longer side capped at 630, then multiples of 14. */
export function dinoSize(height: number, width: number): [number, number] {
  let [h, w] = [height, width];
  if (Math.max(height, width) > 630) {
    if (height > width) [h, w] = [630, Math.trunc((630 * width) / height)];
    else [h, w] = [Math.trunc((630 * height) / width), 630];
  }
  return [Math.floor(h / 14) * 14, Math.floor(w / 14) * 14];
}

/**
 * OpenCV imgproc/src/resize.cpp, cv::hal::resize for CV_8U with INTER_LINEAR: positions (d + 0.5) * scale - 0.5 in
 * double, cast to float; columns outside the image clamp with fraction 0, rows clamp their indices only; weights
 * cvRound(2048 * (1 - f)) and cvRound(2048 * f); horizontal sums exact; vertical pass as VResizeLinearVec_32s8u.
 */
export function cv2ResizeLinear(src: Uint8Array, height: number, width: number, outH: number, outW: number, channels = 3): Uint8Array {
  const roundHalfEven = (v: number) => {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  const taps = (inSize: number, outSize: number, clampFraction: boolean) =>
    Array.from({ length: outSize }, (_, d) => {
      const scale = 1 / (outSize / inSize);
      const position = Math.fround((d + 0.5) * scale - 0.5);
      let lower = Math.floor(position);
      let fraction = Math.fround(position - lower);
      if (clampFraction && lower < 0) [lower, fraction] = [0, 0];
      if (clampFraction && lower >= inSize - 1) [lower, fraction] = [inSize - 1, 0];
      const clamp = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
      const w0 = roundHalfEven(Math.fround(Math.fround(1 - fraction) * 2048));
      const w1 = roundHalfEven(Math.fround(fraction * 2048));
      return { i0: clamp(lower), i1: clamp(lower + 1), w0, w1 };
    });
  const xs = taps(width, outW, true);
  const ys = taps(height, outH, false);
  const rows = new Int32Array(height * outW * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outW; x++) {
      const { i0, i1, w0, w1 } = xs[x];
      for (let c = 0; c < channels; c++) {
        rows[(y * outW + x) * channels + c] = src[(y * width + i0) * channels + c] * w0 + src[(y * width + i1) * channels + c] * w1;
      }
    }
  }
  const out = new Uint8Array(outH * outW * channels);
  for (let y = 0; y < outH; y++) {
    const { i0, i1, w0, w1 } = ys[y];
    for (let i = 0; i < outW * channels; i++) {
      const top = Math.floor(((rows[i0 * outW * channels + i] >> 4) * w0) / 65536);
      const bottom = Math.floor(((rows[i1 * outW * channels + i] >> 4) * w1) / 65536);
      out[y * outW * channels + i] = Math.min(255, (top + bottom + 2) >> 2);
    }
  }
  return out;
}

/** OpenCV imgproc/src/color_rgb.simd.hpp RGB2Gray<uchar>: 15-bit fixed point. */
export function cv2RgbToGray(rgb: Uint8Array): Uint8Array {
  const gray = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < gray.length; i++) gray[i] = (rgb[i * 3] * 9798 + rgb[i * 3 + 1] * 19235 + rgb[i * 3 + 2] * 3735 + 16384) >> 15;
  return gray;
}

/** omniglue utils.py lookup_descriptor_bilinear: no neighbour past the last row/column; map is [H, W, D] row-major. */
export function lookupDescriptorBilinear(x: number, y: number, map: ArrayLike<number>, height: number, width: number, depth: number): number[] {
  if (x < 0 || x > width || y < 0 || y > height) throw new Error(`keypoint (${x}, ${y}) is out of descriptor map bounds`);
  const xs = [Math.floor(x)];
  if (!Number.isInteger(x) && x < width - 1) xs.push(xs[0] + 1);
  const ys = [Math.floor(y)];
  if (!Number.isInteger(y) && y < height - 1) ys.push(ys[0] + 1);
  const result = new Array<number>(depth).fill(0);
  for (const cx of xs) {
    for (const cy of ys) {
      const weight = (1 - Math.abs(x - cx)) * (1 - Math.abs(y - cy));
      for (let c = 0; c < depth; c++) result[c] += weight * map[(cy * width + cx) * depth + c];
    }
  }
  return result;
}

export interface SuperpointFeatures {
  /** (x, y) in original-image pixels. */
  keypoints: [number, number][];
  scores: number[];
  /** Flat row-major indices into the probability map, for descriptor look-ups. */
  pixels: number[];
}

/**
 * omniglue superpoint_extract.py SuperPointExtract._extract_superpoint_output with pad_random_features=False, as
 * FindMatches calls it, then compute()'s rescale by keypoint_scale_factors: pixels with probability > 0 (np.where,
 * row-major), sorted ascending by score, the last min(N, k). The reference's argsort is numpy's default unstable
 * one; this uses a stable sort (ties in row-major order), the rule the graph documents.
 */
export function extractSuperpointOutput(prob: ArrayLike<number>, mapH: number, mapW: number, k: number, height: number, width: number): SuperpointFeatures {
  const detected: number[] = [];
  for (let i = 0; i < mapH * mapW; i++) if (prob[i] > 0) detected.push(i);
  const sorted = detected.map((pixel, order) => ({ pixel, order })).sort((a, b) => prob[a.pixel] - prob[b.pixel] || a.order - b.order);
  const kept = sorted.slice(sorted.length - Math.min(k, sorted.length)).map((e) => e.pixel);
  const [scaleX, scaleY] = [(mapW - 1) / (width - 1), (mapH - 1) / (height - 1)];
  return {
    keypoints: kept.map((p) => [(p % mapW) / scaleX, Math.floor(p / mapW) / scaleY]),
    scores: kept.map((p) => prob[p]),
    pixels: kept,
  };
}

/** omniglue dino_extract.py get_dino_descriptors (with _preprocess_shape): grid position = keypoint / image size * grid size. */
export function dinoDescriptors(features: ArrayLike<number>, gridH: number, gridW: number, keypoints: [number, number][], height: number, width: number): number[][] {
  const [resizedH, resizedW] = dinoSize(height, width);
  if (resizedH / 14 !== gridH || resizedW / 14 !== gridW) throw new Error(`grid ${gridH}x${gridW} does not fit a ${height}x${width} image`);
  // The reference reshapes the [C, h, w] features to [h, w, C] before the look-up.
  const hwc = new Float64Array(gridH * gridW * 768);
  for (let c = 0; c < 768; c++) for (let cell = 0; cell < gridH * gridW; cell++) hwc[cell * 768 + c] = features[c * gridH * gridW + cell];
  // tf.float32 arithmetic in the reference: keypoints / img_size * feature_size.
  return keypoints.map(([x, y]) =>
    lookupDescriptorBilinear(Math.fround(Math.fround(Math.fround(x) / width) * gridW), Math.fround(Math.fround(Math.fround(y) / height) * gridH), hwc, gridH, gridW, 768),
  );
}

export interface Matches {
  rows: number[];
  columns: number[];
  confidences: number[];
}

/**
 * omniglue utils.py soft_assignment_to_match_matrix and omniglue_extract.py FindMatches: dustbins dropped, (i, j)
 * with j the arg-max of row i and i the arg-max of column j (ties: the first index, as numpy and TensorFlow's CPU
 * kernels resolve them), row maximum above float32(1e-3) (TensorFlow compares in float32), both keypoint scores > 0; ordered as np.argwhere orders them.
 * NaN as numpy's max and argmax take it: the maximum of its row and column, the first NaN for argmax (TensorFlow
 * documents no rule), so a row or column holding a NaN never matches.
 */
export function findMatches(soft: ArrayLike<number>, n: number, m: number, scores0: ArrayLike<number>, scores1: ArrayLike<number>): Matches {
  const at = (i: number, j: number) => soft[i * (m + 1) + j];
  /** np.argmax over `count` values: the first NaN if any, else the first maximum. */
  const argmax = (count: number, value: (k: number) => number) => {
    let best = 0;
    for (let k = 1; k < count && !Number.isNaN(value(best)); k++) if (Number.isNaN(value(k)) || value(k) > value(best)) best = k;
    return best;
  };
  const rowBest = Array.from({ length: n }, (_, i) => argmax(m, (j) => at(i, j)));
  const columnBest = Array.from({ length: m }, (_, j) => argmax(n, (i) => at(i, j)));
  const result: Matches = { rows: [], columns: [], confidences: [] };
  if (m === 0) return result;
  for (let i = 0; i < n; i++) {
    const j = rowBest[i];
    if (columnBest[j] === i && at(i, j) > Math.fround(1e-3) && scores0[i] > 0 && scores1[j] > 0) {
      result.rows.push(i);
      result.columns.push(j);
      result.confidences.push(at(i, j));
    }
  }
  return result;
}
