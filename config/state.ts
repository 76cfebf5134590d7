import { z } from 'zod';
import { dnsLabel, dnsSubdomain } from './validators';

// Where Terraform keeps each stack's state. Credentials never come from here: every backend reads them from its
// own standard sources (environment, CLI login, workload identity), as README "Remote state" lists.

const name = (what: string) =>
  z
    .string()
    .min(1, { error: `must not be empty (${what})` })
    .regex(/^[A-Za-z0-9._-]+$/, { error: `must be a ${what}: letters, digits, ".", "_" and "-"` });

/** A path prefix inside a bucket or container: segments of letters, digits, ".", "_", "-", joined by "/". */
const keyPrefix = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, {
      error: 'must be a path of letters, digits, ".", "_" and "-" segments joined by "/", without leading or trailing "/"',
    })
    .default('omniglue-triton');

const local = z.strictObject({
  backend: z.literal('local'),
  /**
   * Directory of the state files, relative to the repository root (one `terraform.<stack>.tfstate` per stack).
   * @default "." (the repository root)
   */
  directory: z
    .string()
    .regex(/^[^\s$]+$/, { error: 'must be a relative directory without spaces or "$"' })
    .refine((value) => !value.startsWith('/') && !value.startsWith('~'), { error: 'must be relative to the repository root' })
    .default('.'),
});

const s3 = z.strictObject({
  backend: z.literal('s3'),
  /** Bucket that holds the state objects (versioning on, as HashiCorp recommends). */
  bucket: name('S3 bucket name'),
  /** AWS region of the bucket. */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'must be an AWS region such as "eu-west-1"' }),
  /** Key prefix; each stack's state is `<keyPrefix>/<stack>.tfstate`. @default "omniglue-triton" */
  keyPrefix: keyPrefix(),
  /** Lock with a lock file next to the state (S3 native locking, Terraform >= 1.10). @default true */
  useLockfile: z.boolean().default(true),
  /** DynamoDB table for locking, for Terraform < 1.10 (deprecated by HashiCorp in favour of useLockfile). */
  dynamodbTable: name('DynamoDB table name').optional(),
  /** Server-side encryption of the state objects. @default true */
  encrypt: z.boolean().default(true),
});

const gcs = z.strictObject({
  backend: z.literal('gcs'),
  /** Bucket that holds the state (object versioning on). Locking is built in. */
  bucket: name('GCS bucket name'),
  /** Prefix; each stack's state is under `<prefix>/<stack>/`. @default "omniglue-triton" */
  prefix: keyPrefix(),
});

const azurerm = z.strictObject({
  backend: z.literal('azurerm'),
  resourceGroupName: name('Azure resource group name'),
  storageAccountName: z.string().regex(/^[a-z0-9]{3,24}$/, { error: 'must be an Azure storage account name: 3-24 lower-case letters and digits' }),
  containerName: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, { error: 'must be an Azure blob container name: 3-63 lower-case letters, digits and "-"' }),
  /** Blob name prefix; each stack's state is `<keyPrefix>/<stack>.tfstate`. Locking uses blob leases. @default "omniglue-triton" */
  keyPrefix: keyPrefix(),
  /** Authenticate to the storage account with Entra ID (no storage keys). @default true */
  useAzureadAuth: z.boolean().default(true),
});

const kubernetes = z.strictObject({
  backend: z.literal('kubernetes'),
  /**
   * Namespace of the state Secrets (`tfstate-default-<secretSuffixPrefix>-<stack>`, locked with a Lease). It must exist
   * before `terraform init`: the serving namespace cannot hold its own stack's state.
   * @default "default"
   */
  namespace: dnsLabel().default('default'),
  /**
   * Prefix of the Secrets' suffix; at most 46 characters, since Terraform also writes the suffix
   * (`<prefix>-omniglue-serving`) as a label value, which Kubernetes caps at 63 (backend client.go, getLabels).
   * @default "omniglue-triton"
   */
  secretSuffixPrefix: dnsSubdomain()
    .max(46, { error: 'must be at most 46 characters: with "-omniglue-serving" it becomes a label value, at most 63' })
    .default('omniglue-triton'),
});

const hcpOrganization = name('HCP Terraform organization name');
const workspacePrefix = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/, { error: 'must hold only letters, digits, "_" and "-" (workspace names)' })
  .default('omniglue-triton-');
const hcpHostname = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/, { error: 'must be a host name such as "app.terraform.io"' })
  .default('app.terraform.io');

const remote = z.strictObject({
  backend: z.literal('remote'),
  organization: hcpOrganization,
  /** Each stack uses workspace `<workspacePrefix><stack>`. @default "omniglue-triton-" */
  workspacePrefix,
  hostname: hcpHostname,
});

const cloud = z.strictObject({
  backend: z.literal('cloud'),
  organization: hcpOrganization,
  /** Each stack uses workspace `<workspacePrefix><stack>`. @default "omniglue-triton-" */
  workspacePrefix,
  hostname: hcpHostname,
  /** HCP Terraform project the workspaces belong to; unset uses the organization's default project. */
  project: z.string().min(1, { error: 'must not be empty; leave it out for the default project' }).optional(),
});

export const stateSchema = z
  .discriminatedUnion('backend', [local, s3, gcs, azurerm, kubernetes, remote, cloud], {
    error: 'must be one of local, s3, gcs, azurerm, kubernetes, remote, cloud',
  })
  .default({ backend: 'local', directory: '.' });

export type StateConfig = z.output<typeof stateSchema>;
export const STATE_BACKENDS = ['local', 's3', 'gcs', 'azurerm', 'kubernetes', 'remote', 'cloud'] as const;
