import { z } from 'zod';
import { quantityValue } from '../lib/quantity';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

export const dnsLabel = () =>
  z
    .string()
    .max(63, { error: 'must be at most 63 characters (a DNS-1123 label)' })
    .regex(DNS1123_LABEL, {
      error: 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
    });

export const dnsSubdomain = () =>
  z
    .string()
    .max(253, { error: 'must be at most 253 characters (a DNS-1123 subdomain)' })
    .regex(DNS1123_SUBDOMAIN, { error: 'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and "."' });

export const labelName = () =>
  z.string().max(316).regex(LABEL_NAME, { error: 'must be a Kubernetes label key such as "nvidia.com/gpu.present"' });

export const labelValue = () =>
  z
    .string()
    .max(63, { error: 'must be at most 63 characters (a Kubernetes label value)' })
    .regex(LABEL_VALUE, { error: 'must be a Kubernetes label value: letters, digits, "-", "_" and "."' });

/** Image tags are pinned: `latest` (or no tag) makes a rollout irreproducible, so it is refused. */
export const pinnedImageTag = () =>
  z
    .string()
    .min(1, { error: 'must not be empty: pin an image tag such as "26.06-py3"' })
    .regex(IMAGE_TAG, { error: 'must be a valid image tag (letters, digits, "_", "." and "-", at most 128 characters)' })
    .refine((tag) => tag.toLowerCase() !== 'latest', {
      error: 'must be pinned: "latest" changes under you; use a release tag such as "26.06-py3"',
    });

// The container image reference grammar of github.com/distribution/reference (regexp.go): an optional registry
// host[:port], then lower-case path components separated by "/", then ":tag" and/or "@digest".
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const IMAGE_REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`);

/** A full image reference with a pinned tag or digest. */
export const pinnedImage = () =>
  z
    .string()
    .min(1, { error: 'must not be empty' })
    .refine((image) => !/\s/.test(image), { error: 'must not contain whitespace' })
    .refine((image) => image.length <= 255 && IMAGE_REFERENCE.test(image), {
      error: 'must be a container image reference: [registry[:port]/]lower-case/path[:tag][@sha256:digest]',
    })
    .refine((image) => /@sha256:[0-9a-f]{64}$/.test(image) || /:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(image.split('/').pop() ?? ''), {
      error: 'must carry a tag or digest, e.g. "python:3.11.11-slim-bookworm" or "repo/image@sha256:<64 hex>"',
    })
    .refine((image) => !/:latest$/i.test(image), { error: 'must be pinned: the "latest" tag changes under you' });

export const chartVersion = () =>
  z.string().regex(SEMVER, { error: 'must be an exact chart version such as "0.18.0" (no ranges, no "latest")' });

export const sha256Hex = () =>
  z
    .string()
    .regex(SHA256_HEX, { error: 'must be 64 lower-case hex characters (a sha256 digest)' })
    .refine((digest) => !/^(.)\1{63}$/.test(digest), { error: 'is a placeholder, not a real digest: put the sha256 from the conversion manifest here' });

/** An image repository without tag or digest, e.g. "nvcr.io/nvidia/tritonserver" or an internal mirror. */
export const imageRepository = () =>
  z
    .string()
    .regex(/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, {
      error: 'must be an image repository without tag or digest, e.g. "nvcr.io/nvidia/tritonserver" or "registry.internal:5000/nvidia/tritonserver"',
    });

export const chartRepositoryUrl = () =>
  z.string().refine((value) => /^(https?|oci):\/\/\S+$/.test(value), { error: 'must be an http(s):// or oci:// Helm chart repository URL' });

export const httpUrl = () =>
  z.string().refine((value) => /^(https?|file):\/\/\S+$/.test(value), { error: 'must be an http(s):// or file:// URL' });

/** A whole number within [min, max], with a message that states the range and why. */
export const intBetween = (min: number, max: number, why: string) =>
  z
    .number()
    .int({ error: `must be a whole number between ${min} and ${max} (${why})` })
    .min(min, { error: `must be between ${min} and ${max} (${why})` })
    .max(max, { error: `must be between ${min} and ${max} (${why})` });

// Quantities of a known unit (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/):
// CPU in cores or millicores, memory in bytes with a decimal or binary multiple. Both are bounded, so that a
// unit mix-up ("1.5Gi" CPU, "1m" of memory) or an overflow ("1e400") is refused rather than deployed.
const CPU = /^(\d+(\.\d{1,3})?|\d+m)$/;
const MEMORY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const formatBytes = (bytes: number) => (bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30}Gi` : `${bytes / 2 ** 20}Mi`);

export const cpuQuantity = (example: string, minCores: number, maxCores = 1024) =>
  z
    .string()
    .regex(CPU, { error: `must be CPU cores such as '${example}' or millicores such as '500m' (no memory units)`, abort: true })
    .refine((value) => quantityValue(value) >= minCores, { error: `must be at least ${minCores} CPU` })
    .refine((value) => quantityValue(value) <= maxCores, { error: `must be at most ${maxCores} CPU` });

export const memoryQuantity = (example: string, minBytes: number, maxBytes = 2 ** 50) =>
  z
    .string()
    .regex(MEMORY, { error: `must be bytes with a unit such as '${example}' (Ki, Mi, Gi, Ti or k, M, G, T; not 'm', which is thousandths)`, abort: true })
    .refine((value) => quantityValue(value) >= minBytes, { error: `must be at least ${formatBytes(minBytes)}` })
    .refine((value) => quantityValue(value) <= maxBytes, { error: `must be at most ${formatBytes(maxBytes)}` });

/** A positive ratio written as a quantity ("1000m" = 1), as HPA targets are. */
export const ratioQuantity = (example: string) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?m?$/, { error: `must be a ratio such as '${example}' (1000m = 1) or '1.5'`, abort: true })
    .refine((value) => quantityValue(value) > 0 && quantityValue(value) <= 100, { error: 'must be above 0 and at most 100' });

/** Prometheus is queried over HTTP: file:// or other schemes are refused. */
export const prometheusUrl = () =>
  z.string().refine((value) => /^https?:\/\/[^\s/$.?#][^\s]*$/.test(value), { error: 'must be an http:// or https:// URL, e.g. "http://prometheus-operated.monitoring.svc:9090"' });
