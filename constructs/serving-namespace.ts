import { Construct } from 'constructs';
import { enforceRule, settingProp } from '../config/construct-props';
import { RULES } from '../config/rules';
import { commonLabels } from '../lib/labels';
import { NamespaceV1 } from '../lib/provider-classes';

export interface ServingNamespaceProps {
  /** Namespace name: a DNS-1123 label, neither `default` nor `kube-*` (setting namespace). */
  readonly name: string;
  /**
   * Pod Security Standard the namespace enforces. Every pod of this stack meets `restricted`
   * (non-root, no capabilities, RuntimeDefault seccomp), so the strictest level costs nothing.
   * @default 'restricted'
   */
  readonly podSecurityLevel?: 'restricted' | 'baseline' | 'privileged';
}

/** The namespace of the serving workload, with Pod Security Admission enforced. */
export class ServingNamespace extends Construct {
  /** The name as a reference to the namespace resource: resources that use it are created after the namespace. */
  readonly name: string;
  /** The name as plain text, for URLs, label values and outputs. */
  readonly literalName: string;
  readonly podSecurityLevel: string;
  readonly resource: NamespaceV1;

  constructor(scope: Construct, id: string, props: ServingNamespaceProps) {
    super(scope, id);
    this.podSecurityLevel = props.podSecurityLevel ?? 'restricted';
    this.literalName = settingProp(this, 'namespace', 'name', props.name);
    // The add-ons' namespaces are the stacks' to compare; alone, the namespace can still be one that Kubernetes owns.
    enforceRule(this, RULES.servingNamespace, { namespace: props.name, monitoringNamespace: undefined, devicePluginNamespace: undefined }, {
      namespace: 'name',
      monitoringNamespace: 'monitoringNamespace',
      devicePluginNamespace: 'devicePluginNamespace',
    });
    this.resource = new NamespaceV1(this, 'resource', {
      metadata: {
        name: props.name,
        labels: {
          ...commonLabels('omniglue', 'namespace'),
          'pod-security.kubernetes.io/enforce': this.podSecurityLevel,
          'pod-security.kubernetes.io/warn': this.podSecurityLevel,
        },
      },
    });
    // Other resources read the name from the Terraform resource so they are created after the namespace.
    this.name = this.resource.metadata.name;
  }
}
