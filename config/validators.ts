import { z } from 'zod';
import {
  azureContainerProblem,
  azureResourceGroupProblem,
  azureStorageAccountProblem,
  dynamodbTableProblem,
  gcsBucketProblem,
  s3BucketProblem,
} from '../lib/cloud-names';
import { IMAGE_TAG, imageRepositoryProblem, pinnedImageProblem } from '../lib/image-reference';
import { dnsLabelProblem, dnsSubdomainProblem, labelKeyProblem, labelValueProblem } from '../lib/kubernetes-names';
import { quantityValue } from '../lib/quantity';
import { controlCharacterProblem } from '../lib/text';
import { urlProblem } from '../lib/url-check';

// One validator per kind of value, each a check of lib/ (shared with anything else that meets such a value) wrapped
// for zod, so every setting of a kind is held to the same rules and refused with the same words.

const SHA256_HEX = /^[0-9a-f]{64}$/;
const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

/** A string setting refused with `problem`'s words when it returns some. */
const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, context) => {
    const message = problem(value);
    if (message !== undefined) context.addIssue({ code: 'custom', message });
  });

/** Free text (a path, a context name, an environment variable's value): anything but control characters. */
export const text = () => checked(controlCharacterProblem);

export const dnsLabel = () => checked(dnsLabelProblem);
export const dnsSubdomain = () => checked(dnsSubdomainProblem);
/** A label key, checked part by part: `[prefix/]name` (lib/kubernetes-names.ts). */
export const labelKey = () => checked(labelKeyProblem);
export const labelValue = () => checked(labelValueProblem);

/** Image tags are pinned: `latest` (or no tag) makes a rollout irreproducible, so it is refused. */
export const pinnedImageTag = () =>
  checked((tag) =>
    tag === ''
      ? 'must not be empty: pin an image tag such as "26.06-py3"'
      : !IMAGE_TAG.test(tag)
        ? 'must be a valid image tag (letters, digits, "_", "." and "-", not starting with "." or "-", at most 128 characters)'
        : tag.toLowerCase() === 'latest'
          ? 'must be pinned: "latest" changes under you; use a release tag such as "26.06-py3"'
          : undefined,
  );

/** A full image reference with a pinned tag or digest (lib/image-reference.ts). */
export const pinnedImage = () => checked(pinnedImageProblem);

/** An image repository without tag or digest, e.g. "nvcr.io/nvidia/tritonserver" or an internal mirror. */
export const imageRepository = () => checked(imageRepositoryProblem);

export const chartVersion = () =>
  z.string().regex(SEMVER, { error: 'must be an exact chart version such as "0.18.0" (no ranges, no "latest")' });

export const sha256Hex = () =>
  z
    .string()
    .regex(SHA256_HEX, { error: 'must be 64 lower-case hex characters (a sha256 digest)' })
    .refine((digest) => !/^(.)\1{63}$/.test(digest), { error: 'is a placeholder, not a real digest: put the sha256 from the conversion manifest here' });

// URLs (lib/url-check.ts): none may carry credentials; the query is kept as written where the URL is passed on whole.
export const chartRepositoryUrl = () =>
  checked((value) => urlProblem(value, { schemes: ['http', 'https', 'oci'], what: 'an http(s):// or oci:// Helm chart repository URL', query: 'kept' }));
export const httpUrl = () =>
  checked((value) => urlProblem(value, { schemes: ['http', 'https', 'file'], what: 'an http(s):// or file:// URL', query: 'kept' }));
/** Prometheus is queried over HTTP at paths the adapter appends: a query or fragment could not be passed on. */
export const prometheusUrl = () =>
  checked((value) =>
    urlProblem(value, { schemes: ['http', 'https'], what: 'an http:// or https:// URL, e.g. "http://prometheus-operated.monitoring.svc:9090"', query: 'refused' }),
  );

/** The name of an environment variable the conversion containers get. */
export const environmentVariableName = () =>
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name (letters, digits, "_")' });

// Cloud names of the state backends (lib/cloud-names.ts).
export const s3BucketName = () => checked(s3BucketProblem);
export const gcsBucketName = () => checked(gcsBucketProblem);
export const dynamodbTableName = () => checked(dynamodbTableProblem);
export const azureResourceGroupName = () => checked(azureResourceGroupProblem);
export const azureStorageAccountName = () => checked(azureStorageAccountProblem);
export const azureContainerName = () => checked(azureContainerProblem);

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
