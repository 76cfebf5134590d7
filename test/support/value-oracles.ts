/**
 * What Kubernetes, the container runtimes and the clouds accept, written from their rules a second time, apart from
 * lib/ (character by character where lib/ uses regular expressions), so that the fuzzers compare two readings of the
 * same rules. Sources: k8s.io/apimachinery pkg/util/validation/validation.go; distribution/reference regexp.go;
 * the WHATWG URL standard as Node implements it; the clouds' naming rules cited in lib/cloud-names.ts.
 */

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ALNUM = `${LOWER_ALNUM}ABCDEFGHIJKLMNOPQRSTUVWXYZ`;
const only = (text: string, allowed: string) => [...text].every((c) => allowed.includes(c));
const edgesIn = (text: string, allowed: string) => text.length > 0 && allowed.includes(text[0]) && allowed.includes(text[text.length - 1]);

function isDnsLabelLike(part: string): boolean {
  return only(part, `${LOWER_ALNUM}-`) && edgesIn(part, LOWER_ALNUM);
}

export function isDnsSubdomain(text: string): boolean {
  return text.length <= 253 && text.split('.').every(isDnsLabelLike);
}

/** qualifiedName: at most 63, alphanumerics at both ends, "-", "_" and "." between. */
function isQualifiedName(text: string): boolean {
  return text.length <= 63 && only(text, `${ALNUM}-_.`) && edgesIn(text, ALNUM);
}

export function isLabelKey(key: string): boolean {
  const parts = key.split('/');
  if (parts.length === 1) return isQualifiedName(parts[0]);
  return parts.length === 2 && parts[0] !== '' && isDnsSubdomain(parts[0]) && isQualifiedName(parts[1]);
}

export function isLabelValue(value: string): boolean {
  return value === '' || isQualifiedName(value);
}

function isPathComponent(part: string): boolean {
  // Alphanumeric runs joined by one ".", one "_", two "_" or any number of "-".
  const runs = part.split(/(\.|__|_|-+)/);
  return runs.every((run, index) => (index % 2 === 0 ? run.length > 0 && only(run, LOWER_ALNUM) : true)) && !/_{3,}|\.\./.test(part);
}

function isRegistry(text: string): boolean {
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d+))?$/.exec(text);
  if (match === null) return false;
  const host = match[1];
  if (host.startsWith('[')) return /^\[[0-9a-fA-F:]+\]$/.test(host);
  return host.split('.').every((part) => only(part, `${ALNUM}-`) && edgesIn(part, ALNUM));
}

/** A repository `[registry[:port]/]path`, as distribution/reference reads a name (at most 255 characters). */
export function isImageRepository(text: string): boolean {
  if (text.length === 0 || text.length > 255) return false;
  const parts = text.split('/');
  if (parts.every(isPathComponent)) return true;
  return parts.length > 1 && isRegistry(parts[0]) && parts.slice(1).every(isPathComponent);
}

export function isTag(tag: string): boolean {
  return tag.length >= 1 && tag.length <= 128 && only(tag, `${ALNUM}_.-`) && !'.-'.includes(tag[0]);
}

export function isControlFree(text: string): boolean {
  return [...text].every((c) => {
    const code = c.charCodeAt(0);
    return code > 0x1f && !(code >= 0x7f && code <= 0x9f);
  });
}

export interface UrlShape {
  readonly scheme: string;
  readonly userinfo: string;
  /** A host and whether WHATWG URL parses it (the fuzzer draws hosts whose answer is known). */
  readonly host: readonly [string, boolean];
  readonly port: string;
  readonly path: string;
  readonly query: string;
}

export const urlText = (u: UrlShape) => `${u.scheme}://${u.userinfo}${u.host[0]}${u.port === '' ? '' : `:${u.port}`}${u.path}${u.query}`;

/** Whether a URL built from its parts is one the setting may take, by the rules README and lib/url-check.ts state. */
export function isAcceptableUrl(u: UrlShape, schemes: readonly string[], queryAllowed: boolean): boolean {
  const text = urlText(u);
  if (!isControlFree(text) || /\s/.test(text)) return false;
  if (!schemes.includes(u.scheme.toLowerCase()) || !u.host[1]) return false;
  if (u.host[0] === '' && u.scheme.toLowerCase() !== 'file') return false;
  if (u.port !== '' && !(/^\d{1,5}$/.test(u.port) && Number(u.port) >= 1 && Number(u.port) <= 65535)) return false;
  // A file: URL has no port (WHATWG "file host state"), and no URL has a port without a host.
  if (u.port !== '' && (u.host[0] === '' || u.scheme.toLowerCase() === 'file')) return false;
  return u.userinfo === '' && (queryAllowed || u.query === '');
}

/** S3 general purpose bucket names, rule by rule. */
export function isS3Bucket(name: string): boolean {
  if (name.length < 3 || name.length > 63) return false;
  if (!only(name, `${LOWER_ALNUM}.-`) || !edgesIn(name, LOWER_ALNUM) || name.includes('..')) return false;
  if (name.split('.').length === 4 && name.split('.').every((part) => /^\d{1,3}$/.test(part))) return false;
  if (['xn--', 'sthree-', 'amzn-s3-demo-'].some((prefix) => name.startsWith(prefix))) return false;
  return !['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'].some((suffix) => name.endsWith(suffix));
}
