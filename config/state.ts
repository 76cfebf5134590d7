import { z } from 'zod';
import {
  azureContainerName,
  azureResourceGroupName,
  azureStorageAccountName,
  dnsLabel,
  dnsSubdomain,
  dynamodbTableName,
  gcsBucketName,
  s3BucketName,
  text,
} from './validators';

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
  backend: z.literal('local').meta({ description: 'State in local files (one person, no team or CI).' }),
  directory: text()
    .regex(/^[^\s$]+$/, { error: 'must be a relative directory without spaces or "$"' })
    .refine((value) => !value.startsWith('/') && !value.startsWith('~'), { error: 'must be relative to the repository root' })
    .default('.')
    .meta({ description: 'Directory of the state files, relative to the repository root (one terraform.<stack>.tfstate per stack).' }),
});

const s3 = z.strictObject({
  backend: z.literal('s3').meta({ description: 'State in an S3 bucket.' }),
  bucket: s3BucketName().meta({ description: 'S3 bucket that holds the state objects (versioning on, as HashiCorp recommends).' }),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'must be an AWS region such as "eu-west-1"' }).meta({ description: 'AWS region of the bucket.' }),
  keyPrefix: keyPrefix().meta({ description: "Key prefix; each stack's state is <keyPrefix>/<stack>.tfstate." }),
  useLockfile: z.boolean().default(true).meta({ description: 'Locks with a lock file next to the state (S3 native locking, Terraform >= 1.10).' }),
  dynamodbTable: dynamodbTableName().optional()
    .meta({ description: 'DynamoDB table for locking, for Terraform < 1.10 (deprecated by HashiCorp in favour of useLockfile).' }),
  encrypt: z.boolean().default(true).meta({ description: 'Server-side encryption of the state objects.' }),
});

const gcs = z.strictObject({
  backend: z.literal('gcs').meta({ description: 'State in a Google Cloud Storage bucket (locking built in).' }),
  bucket: gcsBucketName().meta({ description: 'GCS bucket that holds the state (object versioning on).' }),
  prefix: keyPrefix().meta({ description: "Prefix; each stack's state is under <prefix>/<stack>/." }),
});

const azurerm = z.strictObject({
  backend: z.literal('azurerm').meta({ description: 'State in an Azure blob container (locking with blob leases).' }),
  resourceGroupName: azureResourceGroupName().meta({ description: 'Resource group of the storage account.' }),
  storageAccountName: azureStorageAccountName()
    .meta({ description: 'Storage account that holds the container.' }),
  containerName: azureContainerName()
    .meta({ description: 'Blob container that holds the state.' }),
  keyPrefix: keyPrefix().meta({ description: "Blob name prefix; each stack's state is <keyPrefix>/<stack>.tfstate." }),
  useAzureadAuth: z.boolean().default(true).meta({ description: 'Authenticates to the storage account with Entra ID (no storage keys).' }),
});

const kubernetes = z.strictObject({
  backend: z.literal('kubernetes').meta({ description: 'State in Secrets of the cluster, locked with a Lease.' }),
  // It must exist before `terraform init`: the serving namespace cannot hold its own stack's state.
  namespace: dnsLabel().default('default')
    .meta({ description: 'Namespace of the state Secrets (tfstate-default-<secretSuffixPrefix>-<stack>); it must exist before the first deploy.' }),
  // Terraform also writes the suffix (`<prefix>-omniglue-serving`) as a label value, which Kubernetes caps at 63
  // (kubernetes backend client.go, getLabels).
  secretSuffixPrefix: dnsSubdomain()
    .max(46, { error: 'must be at most 46 characters: with "-omniglue-serving" it becomes a label value, at most 63' })
    .default('omniglue-triton')
    .meta({ description: "Prefix of the state Secrets' suffix, at most 46 characters." }),
});

const hcpOrganization = name('HCP Terraform organization name').meta({ description: 'HCP Terraform organization.' });
const workspacePrefix = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/, { error: 'must hold only letters, digits, "_" and "-" (workspace names)' })
  .default('omniglue-triton-')
  .meta({ description: 'Each stack uses workspace <workspacePrefix><stack>.' });
const hcpHostname = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/, { error: 'must be a host name such as "app.terraform.io"' })
  .default('app.terraform.io')
  .meta({ description: 'Host of HCP Terraform or Terraform Enterprise.' });

const remote = z.strictObject({
  backend: z.literal('remote').meta({ description: 'State in HCP Terraform workspaces (the remote backend).' }),
  organization: hcpOrganization,
  workspacePrefix,
  hostname: hcpHostname,
});

const cloud = z.strictObject({
  backend: z.literal('cloud').meta({ description: 'State in HCP Terraform workspaces (the cloud block).' }),
  organization: hcpOrganization,
  workspacePrefix,
  hostname: hcpHostname,
  project: text().min(1, { error: 'must not be empty; leave it out for the default project' }).optional()
    .meta({ description: "HCP Terraform project of the workspaces; unset uses the organization's default project." }),
});

export const stateSchema = z
  .discriminatedUnion('backend', [local, s3, gcs, azurerm, kubernetes, remote, cloud], {
    error: 'must be one of local, s3, gcs, azurerm, kubernetes, remote, cloud',
  })
  .default({ backend: 'local', directory: '.' })
  .meta({ description: "Terraform backend of both stacks' state (one state per stack); an environment's state replaces the base's whole." });

export type StateConfig = z.output<typeof stateSchema>;
export const STATE_BACKENDS = ['local', 's3', 'gcs', 'azurerm', 'kubernetes', 'remote', 'cloud'] as const;
