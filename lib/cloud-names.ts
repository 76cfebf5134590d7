/**
 * Names the state backends' clouds accept, checked before `terraform init` would fail on them. Sources: Amazon S3
 * "General purpose bucket naming rules" (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html);
 * Google Cloud Storage "Bucket names" (cloud.google.com/storage/docs/buckets#naming); Amazon DynamoDB "Naming rules"
 * (docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html); Azure "Naming
 * rules and restrictions for Azure resources" (learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules),
 * Microsoft.Resources/resourcegroups, Microsoft.Storage/storageAccounts and its blobServices/containers.
 */

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function firstOf(checks: [boolean, string][]): string | undefined {
  return checks.find(([broken]) => broken)?.[1];
}

export function s3BucketProblem(name: string): string | undefined {
  const what = 'must be an S3 bucket name';
  return firstOf([
    [name.length < 3 || name.length > 63, `${what}: 3 to 63 characters`],
    [!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name), `${what}: lower-case letters, digits, "." and "-", starting and ending with a letter or digit`],
    [name.includes('..'), `${what}: no two adjacent periods`],
    [IPV4.test(name), `${what}: not formatted as an IP address`],
    [/^(xn--|sthree-|amzn-s3-demo-)/.test(name), `${what}: the prefixes xn--, sthree- and amzn-s3-demo- are reserved`],
    [/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name), `${what}: the suffixes -s3alias, --ol-s3, .mrap, --x-s3 and --table-s3 are reserved`],
  ]);
}

export function gcsBucketProblem(name: string): string | undefined {
  const what = 'must be a GCS bucket name';
  const parts = name.split('.');
  return firstOf([
    [!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name), `${what}: lower-case letters, digits, "-", "_" and ".", starting and ending with a letter or digit`],
    [name.length < 3 || name.length > (parts.length > 1 ? 222 : 63), `${what}: 3 to 63 characters (222 with dots)`],
    [parts.some((part) => part.length === 0 || part.length > 63), `${what}: each dot-separated part 1 to 63 characters`],
    [IPV4.test(name), `${what}: not an IP address`],
    [name.startsWith('goog') || /g[o0]{2}g[l1]e/.test(name), `${what}: it may not start with "goog" nor contain "google" or a look-alike`],
  ]);
}

export function dynamodbTableProblem(name: string): string | undefined {
  return /^[A-Za-z0-9_.-]{3,255}$/.test(name) ? undefined : 'must be a DynamoDB table name: 3 to 255 letters, digits, "_", "-" and "."';
}

export function azureResourceGroupProblem(name: string): string | undefined {
  const what = 'must be an Azure resource group name';
  return firstOf([
    [name.length < 1 || name.length > 90, `${what}: 1 to 90 characters`],
    [!/^[-\w.()\p{L}\p{Nd}]+$/u.test(name), `${what}: letters, digits, "_", "-", ".", "(" and ")"`],
    [name.endsWith('.'), `${what}: it may not end with "."`],
  ]);
}

export function azureStorageAccountProblem(name: string): string | undefined {
  return /^[a-z0-9]{3,24}$/.test(name) ? undefined : 'must be an Azure storage account name: 3-24 lower-case letters and digits';
}

export function azureContainerProblem(name: string): string | undefined {
  return /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(name)
    ? undefined
    : 'must be an Azure blob container name: 3-63 lower-case letters, digits and "-", starting and ending with a letter or digit, no "--"';
}
