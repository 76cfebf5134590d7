/**
 * Image decoding for the ensemble's `image0`/`image1` inputs: UINT8 [H, W, 3] RGB, at least 14x14.
 */
import sharp from 'sharp';
import { ExitCode, MatchClientError, reasonOf } from './errors';

/** The ensemble's smallest input side: one DINOv2 patch (docs/model-repository.md, "Input limits"). */
export const MIN_SIDE = 14;

export interface RgbImage {
  /** Path as given on the command line (reported back in the JSON output). */
  path: string;
  width: number;
  height: number;
  /** Row-major H*W*3 bytes, R G B per pixel, no padding: exactly the UINT8 tensor's binary form. */
  data: Buffer;
}

/**
 * What to do with an EXIF orientation tag.
 * - 'apply' (default): rotate/flip as the tag says, so keypoints are in the pixels a viewer shows (phone photos).
 * - 'ignore': keep the pixels as stored, as the reference does: omniglue's demo.py decodes with
 *   `np.array(Image.open(path).convert("RGB"))`, and PIL applies no EXIF orientation without ImageOps.exif_transpose.
 */
export type ExifOrientation = 'apply' | 'ignore';

/**
 * Decodes a JPEG/PNG (anything sharp reads) into raw RGB.
 * - autoOrient() applies the EXIF orientation (unless `orientation` is 'ignore'), so keypoints are in the pixels a
 *   viewer shows, which are also the pixels the picture from draw.ts shows.
 * - toColourspace('srgb') turns greyscale (1 band) into 3 bands; removeAlpha drops a PNG's 4th band.
 */
export async function loadRgbImage(path: string, orientation: ExifOrientation = 'apply'): Promise<RgbImage> {
  const source = sharp(path);
  const decoded = await (orientation === 'apply' ? source.autoOrient() : source)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((err: unknown) => {
      throw new MatchClientError(`cannot read image '${path}': ${reasonOf(err)}`, ExitCode.Image);
    });
  const { width, height, channels } = decoded.info;
  if (channels !== 3 || decoded.data.byteLength !== width * height * 3) {
    // Should not happen after removeAlpha + srgb; checked because a wrong byte count would be sent as-is.
    throw new MatchClientError(`cannot read image '${path}': decoded to ${channels} channels, expected 3`, ExitCode.Image);
  }
  if (width < MIN_SIDE || height < MIN_SIDE) {
    throw new MatchClientError(
      `image '${path}' is ${width}x${height}; the ensemble needs at least ${MIN_SIDE}x${MIN_SIDE}`,
      ExitCode.Image,
    );
  }
  return { path, width, height, data: decoded.data };
}
