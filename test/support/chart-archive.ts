import * as crypto from 'crypto';
import * as fs from 'fs';
import * as zlib from 'zlib';

/**
 * The contents of a packaged chart, independent of how the archive was written: helm package writes a chart's
 * dependencies in the order it loaded them, which follows Go's map iteration (kube-prometheus-stack's five subcharts
 * came out in another order on 7 of 20 rebuilds), so the .tgz bytes differ while every file is the same.
 *
 * A digest in the form of `sha256sum` over every regular file, sorted by path: `<sha256>  <path>\n` per file.
 * Reads POSIX ustar (with its 155-byte prefix), PAX `path` records and GNU long names, which is what Go's
 * archive/tar (helm) writes.
 */
export function archiveFiles(file: string): Map<string, Buffer> {
  const tar = zlib.gunzipSync(fs.readFileSync(file));
  const files = new Map<string, Buffer>();
  const text = (start: number, length: number) => tar.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
  let longName: string | undefined;
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = parseInt(text(offset + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    const ustarName = text(offset + 257, 6).startsWith('ustar') && text(offset + 345, 155) !== '' ? `${text(offset + 345, 155)}/${text(offset, 100)}` : text(offset, 100);
    if (type === 'x') {
      longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1] ?? longName;
    } else if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
    } else {
      if (type === '0' || type === '\0') files.set(longName ?? ustarName, Buffer.from(body));
      longName = undefined;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** sha256 of the archive's files and paths, whatever their order in the archive. */
export function archiveContentDigest(file: string): string {
  const lines = [...archiveFiles(file)]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, content]) => `${crypto.createHash('sha256').update(content).digest('hex')}  ${name}\n`);
  return crypto.createHash('sha256').update(lines.join('')).digest('hex');
}
