/**
 * URLs of the configuration, checked before anything parses them for use: WHATWG `new URL` (what Node offers) throws
 * on a port above 65535 or a broken IPv6 host, accepts port 0, silently drops tabs and newlines, and splits off
 * credentials and the query, which a caller that rebuilds the URL from its parts would lose. Each rule here says
 * what is kept as written and what is refused, so no URL is changed on its way to Terraform.
 */
import { controlCharacterProblem } from './text';

export interface UrlRules {
  /** Schemes accepted, without "://", e.g. ['http', 'https']. */
  readonly schemes: readonly string[];
  /** What the refusal calls an acceptable URL, e.g. 'an http:// or https:// URL'. */
  readonly what: string;
  /** Whether a query string and a fragment may be given (kept as written) or are refused. */
  readonly query: 'kept' | 'refused';
}

/** Undefined when `text` is a URL of the given rules; otherwise what is wrong. */
export function urlProblem(text: string, rules: UrlRules): string | undefined {
  const must = `must be ${rules.what}`;
  const control = controlCharacterProblem(text);
  if (control !== undefined) return `${must}; it ${control}`;
  if (/\s/.test(text)) return `${must}; it must not contain spaces`;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1].toLowerCase();
  if (scheme === undefined || !rules.schemes.includes(scheme)) return must;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${must}; "${text.length > 60 ? `${text.slice(0, 57)}...` : text}" does not parse as one (check the host, its brackets and the port)`;
  }
  if (scheme !== 'file' && url.hostname === '') return `${must}; it has no host`;
  // WHATWG keeps port 0 (and drops a default port): 0 is no port a server listens on.
  if (url.port !== '' && Number(url.port) < 1) return `${must}; port ${url.port} is not a port (1-65535)`;
  // Secrets written here would reach the Terraform state and the cluster's objects in clear text.
  if (url.username !== '' || url.password !== '') return `${must}; it must not hold credentials (user:password@): give them to the client another way`;
  if (rules.query === 'refused' && (url.search !== '' || url.hash !== '' || text.includes('?') || text.includes('#'))) {
    return `${must}; it must not have a query (?) or fragment (#), which this URL cannot pass on`;
  }
  return undefined;
}

/** The parts of a URL that urlProblem accepted, with its default port made explicit. */
export function urlParts(text: string): { origin: string; port: number; path: string } {
  const url = new URL(text);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { origin: `${url.protocol}//${url.hostname}`, port, path: url.pathname === '/' ? '' : url.pathname };
}
