/**
 * The match picture: image0 and image1 side by side, one line per match, coloured by confidence.
 *
 * Layout: both images at their original size, top-aligned, image1 starting at x = width0; the canvas is
 * (width0 + width1) x max(height0, height1) and the strip under the shorter image is black. No scaling, so a
 * keypoint (x, y) is drawn at (x, y) in image0 and at (width0 + x, y) in image1 - the same layout as the
 * reference demo's visualisation, and nothing is resampled.
 *
 * Colour: confidence clamped to [0, 1] on a red (0) -> yellow (0.5) -> green (1) ramp, absolute rather than
 * rescaled to the pair's min/max, so pictures from different runs are comparable.
 */
import sharp from 'sharp';
import type { RgbImage } from './images';

export interface Match {
  kp0: [number, number];
  kp1: [number, number];
  confidence: number;
}

export function canvasSize(image0: Pick<RgbImage, 'width' | 'height'>, image1: Pick<RgbImage, 'width' | 'height'>): {
  width: number;
  height: number;
} {
  return { width: image0.width + image1.width, height: Math.max(image0.height, image1.height) };
}

/** Red -> yellow -> green ramp over confidence in [0, 1]; returns [r, g, b] in 0..255. */
export function confidenceColour(confidence: number): [number, number, number] {
  const c = Number.isFinite(confidence) ? Math.min(1, Math.max(0, confidence)) : 0;
  return c < 0.5 ? [255, Math.round(510 * c), 0] : [Math.round(255 * (2 - 2 * c)), 255, 0];
}

const fmt = (v: number): string => (Math.round(v * 100) / 100).toString();

/** SVG overlay the size of the canvas. Low-confidence lines first, so the confident ones end up on top. */
export function matchesSvg(matches: Match[], offsetX: number, width: number, height: number): string {
  const sorted = [...matches].sort((a, b) => a.confidence - b.confidence);
  const shapes = sorted.map((m) => {
    const [r, g, b] = confidenceColour(m.confidence);
    const colour = `rgb(${r},${g},${b})`;
    const x0 = fmt(m.kp0[0]);
    const y0 = fmt(m.kp0[1]);
    const x1 = fmt(m.kp1[0] + offsetX);
    const y1 = fmt(m.kp1[1]);
    return (
      `<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y1}" stroke="${colour}" stroke-width="2"/>` +
      `<circle cx="${x0}" cy="${y0}" r="2.5" fill="${colour}"/><circle cx="${x1}" cy="${y1}" r="2.5" fill="${colour}"/>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
}

/** The picture as PNG bytes (the caller writes them atomically). */
export async function renderMatchesPng(image0: RgbImage, image1: RgbImage, matches: Match[]): Promise<Buffer> {
  const { width, height } = canvasSize(image0, image1);
  return sharp({ create: { width, height, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .composite([
      { input: image0.data, raw: { width: image0.width, height: image0.height, channels: 3 }, left: 0, top: 0 },
      { input: image1.data, raw: { width: image1.width, height: image1.height, channels: 3 }, left: image0.width, top: 0 },
      { input: Buffer.from(matchesSvg(matches, image0.width, width, height)), left: 0, top: 0 },
    ])
    .png()
    .toBuffer();
}
