/**
 * The engines `npm run setup` builds with the Go toolchain from the module proxy (docs/engines.md): the one table
 * of their versions. Each is built into .cache/engines/<name>-<version>/ (scripts/setup/steps/20-engines.ts) and
 * found there by scripts/engines.ts.
 */

/** `go install module@version` for each entry, outside any module (go.mod of the module itself is obeyed). */
export interface GoInstall {
  readonly kind: 'install';
  readonly packages: readonly string[];
}

/**
 * `go build` of packages inside one of our wrapper modules (scripts/setup/engines/<dir>/go.mod), for modules that
 * `go install pkg@version` refuses because their go.mod has replace directives (k8s.io/kubernetes), or that have
 * no main package of their own (etcd's server library). The wrapper's go.mod must require `module` at `version`.
 */
export interface WrapperBuild {
  readonly kind: 'wrapper';
  readonly dir: string;
  readonly module: string;
  readonly packages: readonly string[];
}

/**
 * A Terraform provider, mirrored as registry.terraform.io/hashicorp/<type>/<version>. `pin` is the commit the
 * release tag points to; `standIn`, when set, is the module version built instead because the proxy refuses the
 * pin (docs/engines.md quotes go's error; setup checks again at every cold build). Deleting `standIn` builds the pin.
 */
export interface ProviderBuild {
  readonly kind: 'provider';
  readonly type: string;
  readonly module: string;
  readonly pin: string;
  readonly standIn?: string;
}

export interface Engine {
  /** Cache directory name prefix and progress label. */
  readonly name: string;
  /** The release this engine is (for a provider: the version the synthesized stacks pin and the mirror holds). */
  readonly version: string;
  readonly source: GoInstall | WrapperBuild | ProviderBuild;
  readonly binaries: readonly string[];
  /** Extra `-X` settings, as the upstream release builds stamp them; `-s -w` is added to every build. */
  readonly ldflags?: readonly string[];
}

const KUBERNETES = '1.35.4';
const [kubeMajor, kubeMinor] = KUBERNETES.split('.');
// The version k8s release builds stamp into both version packages (kubernetes hack/lib/version.sh,
// kube::version::ldflags). Without them an apiserver reports v0.0.0-master to /version, and Helm checks a chart's
// kubeVersion constraint against that.
const kubernetesVersionFlags = ['k8s.io/client-go/pkg/version', 'k8s.io/component-base/version'].flatMap((pkg) => [
  `-X ${pkg}.gitVersion=v${KUBERNETES}`,
  `-X ${pkg}.gitMajor=${kubeMajor}`,
  `-X ${pkg}.gitMinor=${kubeMinor}`,
  `-X ${pkg}.gitTreeState=clean`,
]);

export const ENGINES: readonly Engine[] = [
  {
    // The last MPL release; from 1.6 the licence is BUSL, and from 1.9 go.mod has replace directives, which
    // `go install pkg@version` refuses. cdktf 0.21 parses its `version -json` (@cdktf/commons terraform.ts).
    name: 'terraform',
    version: '1.5.7',
    source: { kind: 'install', packages: ['github.com/hashicorp/terraform@v1.5.7'] },
    binaries: ['terraform'],
  },
  {
    name: 'terraform-provider-kubernetes',
    version: '2.38.0',
    source: {
      kind: 'provider',
      type: 'kubernetes',
      module: 'github.com/hashicorp/terraform-provider-kubernetes',
      pin: 'be88f44271050f69d52f410bca388834afedfe71',
      standIn: 'v1.13.4-0.20260821094251-3a33fb6cc605',
    },
    binaries: ['terraform-provider-kubernetes'],
  },
  {
    name: 'terraform-provider-helm',
    version: '3.1.1',
    source: {
      kind: 'provider',
      type: 'helm',
      module: 'github.com/hashicorp/terraform-provider-helm',
      pin: '1cbf08f6a306ab3cdff6079b87a61c7641b64f3b',
      standIn: 'v1.3.3-0.20260629194918-a4f1c1d8b008',
    },
    binaries: ['terraform-provider-helm'],
  },
  {
    name: 'kubernetes',
    version: KUBERNETES,
    source: {
      kind: 'wrapper',
      dir: 'kubernetes',
      module: 'k8s.io/kubernetes',
      packages: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((cmd) => `k8s.io/kubernetes/cmd/${cmd}`),
    },
    binaries: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'],
    ldflags: kubernetesVersionFlags,
  },
  {
    // etcd 3.6 is a supported store for kube-apiserver 1.35 (docs/engines.md cites the skew policy).
    name: 'etcd',
    version: '3.6.8',
    source: { kind: 'wrapper', dir: 'etcd', module: 'go.etcd.io/etcd/server/v3', packages: ['.'] },
    binaries: ['etcd'],
  },
  {
    name: 'kwok',
    version: '0.8.0',
    source: { kind: 'install', packages: ['sigs.k8s.io/kwok/cmd/kwok@v0.8.0', 'sigs.k8s.io/kwok/cmd/kwokctl@v0.8.0'] },
    binaries: ['kwok', 'kwokctl'],
    // kwokctl's default cluster version is its own release's (kwok pkg/consts, KubeVersion; hack/releases.sh sets it
    // the same way): ours is the apiserver built above.
    ldflags: [`-X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES}`],
  },
];

/** The module@version that a provider entry builds: the stand-in while one is declared, else the pinned commit. */
export function providerBuildTarget(source: ProviderBuild): string {
  return `${source.module}@${source.standIn ?? source.pin}`;
}

export function engine(name: string): Engine {
  const found = ENGINES.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no engine named '${name}' in scripts/setup/engines/versions.ts`);
  return found;
}
