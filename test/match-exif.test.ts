import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { parseCliArgs, USAGE } from '../scripts/match/cli';
import { loadRgbImage } from '../scripts/match/images';

const tmp = mkdtempSync(join(tmpdir(), 'match-exif-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function rotatedJpeg(): Promise<string> {
  const file = join(tmp, 'rotated.jpg');
  // Stored 64 wide, 40 high, red on the left half; orientation 6: a viewer shows it rotated 90 degrees clockwise.
  const pixels = Buffer.alloc(64 * 40 * 3);
  for (let y = 0; y < 40; y++) for (let x = 0; x < 32; x++) pixels[(y * 64 + x) * 3] = 255;
  await sharp(pixels, { raw: { width: 64, height: 40, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(file);
  return file;
}

describe('EXIF orientation in the match client', () => {
  test('applies the orientation by default, as viewers show phone photos', async () => {
    const image = await loadRgbImage(await rotatedJpeg());
    expect([image.width, image.height]).toEqual([40, 64]);
    expect(image.data[0]).toBeGreaterThan(200); // top row after rotating clockwise: the red left half
    expect(image.data[(63 * 40 + 39) * 3]).toBeLessThan(50);
  });

  test("'ignore' keeps the stored pixels, as the reference's PIL decoding does", async () => {
    const image = await loadRgbImage(await rotatedJpeg(), 'ignore');
    expect([image.width, image.height]).toEqual([64, 40]);
    expect(image.data[0]).toBeGreaterThan(200);
    expect(image.data[(0 * 64 + 63) * 3]).toBeLessThan(50);
  });

  test('--ignore-exif-orientation selects it; applying is the default', () => {
    const base = ['--image0', 'a.jpg', '--image1', 'b.jpg'];
    expect(parseCliArgs(base)).toMatchObject({ exifOrientation: 'apply' });
    expect(parseCliArgs([...base, '--ignore-exif-orientation'])).toMatchObject({ exifOrientation: 'ignore' });
    expect(USAGE).toContain('--ignore-exif-orientation');
  });
});
