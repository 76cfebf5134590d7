/**
 * Container image references, by the grammar the container runtimes parse them with: github.com/distribution/reference
 * regexp.go (`domainNameComponent`, `ipv6address`, `domainAndPort`, `pathComponent` with `separator`
 * `(?:[._]|__|[-]+)`, `tag`, `digestPat`) and reference.go (`NameTotalLengthMax` = 255 for the name, tag and digest
 * excluded). The registry host may hold upper-case letters; the path may not.
 */

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const REPOSITORY = new RegExp(`^${NAME}$`);
export const IMAGE_TAG = new RegExp(`^${TAG}$`);
export const NAME_TOTAL_LENGTH_MAX = 255;

export interface ImageReference {
  /** Registry and path, e.g. `nvcr.io/nvidia/tritonserver`. */
  readonly name: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** The parts of a reference, or undefined when the runtimes would refuse it. */
export function parseImageReference(text: string): ImageReference | undefined {
  // Longer than any name, tag and digest together: refused before a regular expression runs over it.
  if (text.length > NAME_TOTAL_LENGTH_MAX + 1 + 128 + 1 + 256) return undefined;
  const match = REFERENCE.exec(text);
  if (match === null || match[1].length > NAME_TOTAL_LENGTH_MAX) return undefined;
  return { name: match[1], ...(match[2] !== undefined ? { tag: match[2] } : {}), ...(match[3] !== undefined ? { digest: match[3] } : {}) };
}

/** A repository without tag or digest (`[registry[:port]/]path`), at most 255 characters. */
export function imageRepositoryProblem(text: string): string | undefined {
  const example = 'e.g. "nvcr.io/nvidia/tritonserver", "registry.internal:5000/nvidia/tritonserver" or "[::1]:5000/tritonserver"';
  if (text.length > NAME_TOTAL_LENGTH_MAX) return `must be at most ${NAME_TOTAL_LENGTH_MAX} characters (an image repository)`;
  if (!REPOSITORY.test(text)) return `must be an image repository without tag or digest: [registry[:port]/]lower-case/path, ${example}`;
  return undefined;
}

/** A full reference that pins what runs: a tag other than `latest`, or a sha256 digest. */
export function pinnedImageProblem(text: string): string | undefined {
  if (text === '') return 'must not be empty';
  if (/\s/.test(text)) return 'must not contain whitespace';
  const reference = parseImageReference(text);
  if (reference === undefined) {
    return `must be a container image reference: [registry[:port]/]lower-case/path[:tag][@sha256:digest], with a name of at most ${NAME_TOTAL_LENGTH_MAX} characters`;
  }
  if (reference.digest !== undefined) {
    return /^sha256:[0-9a-f]{64}$/.test(reference.digest) ? undefined : 'must pin its digest as sha256:<64 lower-case hex digits>';
  }
  if (reference.tag === undefined) return 'must carry a tag or digest, e.g. "python:3.11.11-slim-bookworm" or "repo/image@sha256:<64 hex>"';
  if (reference.tag.toLowerCase() === 'latest') return 'must be pinned: the "latest" tag changes under you';
  return undefined;
}
