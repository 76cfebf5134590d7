/**
 * The files the client writes: refused up front when two of them (or one and an input image) are the same file,
 * and written atomically, so a failure never leaves a partial file nor replaces a good one with half of a new one.
 */
import { randomBytes } from 'node:crypto';
import { realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ExitCode, MatchClientError, reasonOf } from './errors';

/** The same file: equal resolved paths, or (for files that exist) the same device and inode, so links count too. */
async function identity(path: string): Promise<string> {
  try {
    const st = await stat(path);
    return `inode:${st.dev}:${st.ino}`;
  } catch {
    // Not there yet: compare where it will be, with the existing directory's links resolved.
    try {
      return `path:${join(await realpath(dirname(resolve(path))), basename(path))}`;
    } catch {
      return `path:${resolve(path)}`;
    }
  }
}

export interface NamedPath {
  flag: string;
  path: string;
}

/** Throws a usage error naming both flags when an output would overwrite an input or another output. */
export async function checkOutputCollisions(inputs: NamedPath[], outputs: NamedPath[]): Promise<void> {
  const seen = new Map<string, NamedPath>();
  for (const entry of [...inputs, ...outputs]) {
    const key = await identity(entry.path);
    const earlier = seen.get(key);
    if (earlier && outputs.includes(entry)) {
      const role = inputs.includes(earlier) ? 'would overwrite the input' : 'is the same file as';
      throw new MatchClientError(
        `invalid arguments: ${entry.flag} '${entry.path}' ${role} ${earlier.flag} '${earlier.path}'`,
        ExitCode.Usage,
        'give every output its own file name',
      );
    }
    if (!earlier) seen.set(key, entry);
  }
}

/**
 * Writes `data` to a temporary file beside `path`, then renames it over `path` (atomic within a directory,
 * POSIX rename(2)); the temporary file is removed on any failure.
 */
export async function writeFileAtomically(what: string, path: string, data: Uint8Array | string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, data, { flag: 'wx' });
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new MatchClientError(`cannot write ${what} '${path}': ${reasonOf(err)}`, ExitCode.Output);
  }
}
