import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** A file as hashed: a stable key (a relative path) and its bytes. */
export interface HashedFile {
  readonly key: string;
  readonly content: Buffer;
}

/** A short, stable digest of files and settings; names Jobs and versions, and marks chart changes. */
export function contentHash(files: readonly HashedFile[], settings: unknown, length = 12): string {
  const hash = crypto.createHash('sha256');
  for (const file of [...files].sort((a, b) => a.key.localeCompare(b.key))) {
    hash.update(file.key).update('\0').update(file.content).update('\0');
  }
  hash.update(JSON.stringify(settings));
  return hash.digest('hex').slice(0, length);
}

/** Every file below `directory`, keyed by its path relative to it. */
export function filesUnder(directory: string): HashedFile[] {
  return fs
    .readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const full = path.join(entry.parentPath ?? entry.path, entry.name);
      return { key: path.relative(directory, full).split(path.sep).join('/'), content: fs.readFileSync(full) };
    });
}
