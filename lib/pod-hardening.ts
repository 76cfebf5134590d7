/**
 * Security settings every pod of this stack runs with; they satisfy the `restricted` Pod Security Standard
 * that the serving namespace enforces. The Triton image's own user is 1000 (triton-server).
 */
export const NON_ROOT_UID = 1000;

export function hardenedPodSecurityContext() {
  return {
    runAsNonRoot: true,
    runAsUser: String(NON_ROOT_UID),
    runAsGroup: String(NON_ROOT_UID),
    // Makes the model volume writable for the conversion Job and readable for Triton without a root init step.
    fsGroup: String(NON_ROOT_UID),
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function hardenedContainerSecurityContext() {
  return {
    runAsNonRoot: true,
    runAsUser: String(NON_ROOT_UID),
    runAsGroup: String(NON_ROOT_UID),
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
