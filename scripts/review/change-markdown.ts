/**
 * A change review as a pull-request comment: destructive consequences first, in a GitHub caution block, then
 * per stack what the change means for the cluster (rollouts, Job runs, Helm upgrades) and the resource table.
 * The first line is a marker the CI workflow uses to update its own comment instead of adding another.
 */

import type { ChangeReview, Consequence, ConsequenceKind } from './compare';
import { CONSEQUENCE_KINDS } from './compare';
import { table } from './markdown';

export const COMMENT_MARKER = '<!-- omniglue-change-review -->';

const DERIVED: ConsequenceKind[] = ['rollout', 'job-run', 'helm-upgrade'];

export interface ComparedSides {
  /** What was compared, as the reader should see it: `cdktf.out.base`, `origin/main (1a2b3c4)`. */
  readonly before: string;
  readonly after: string;
  /** How the earlier side was synthesized (`--base`: its configuration file and environment). @default - none */
  readonly beforeSynthesis?: string;
}

function count(review: ChangeReview, kind: ConsequenceKind): number {
  return review.consequences.filter((c) => c.kind === kind).length;
}

function consequenceLine(c: Consequence): string {
  return `- **${c.kind}** \`${c.address}\`: ${c.reason}`;
}

export function renderChangeReview(review: ChangeReview, sides: ComparedSides): string {
  const synthesis = sides.beforeSynthesis === undefined ? '' : ` (${sides.before.replace(/ \(.*$/, '')} synthesized with ${sides.beforeSynthesis})`;
  const lines: string[] = [COMMENT_MARKER, '# Change review', '', `What applying \`${sides.after}\` over \`${sides.before}\`${synthesis} does to the cluster, read from the synthesized Terraform JSON.`, ''];
  const destructive = review.consequences.filter((c) => c.destructive);
  if (destructive.length > 0) {
    lines.push('> [!CAUTION]', `> **Destructive: ${destructive.length} change${destructive.length === 1 ? '' : 's'} delete${destructive.length === 1 ? 's' : ''} data.**`, '>');
    for (const c of destructive) lines.push(`> - **${c.kind}** \`${c.address}\` (stack \`${c.stack}\`): ${c.reason}`);
    lines.push('');
  }
  if (review.consequences.length === 0) {
    lines.push('**No changes**: every stack synthesizes to the same resources, so applying changes nothing in the cluster.', '');
    return `${lines.join('\n').trimEnd()}\n`;
  }
  lines.push(...table([...CONSEQUENCE_KINDS], [CONSEQUENCE_KINDS.map((kind) => count(review, kind))]), '');

  for (const stack of review.stacks) {
    if (stack.status === 'unchanged') continue;
    const consequences = review.consequences.filter((c) => c.stack === stack.name);
    const resources = review.resources.filter((r) => r.stack === stack.name);
    lines.push(`## Stack \`${stack.name}\`${stack.status === 'added' ? ' (new stack)' : stack.status === 'removed' ? ' (removed stack)' : ''}`, '');
    const derived = consequences.filter((c) => DERIVED.includes(c.kind));
    lines.push('### What it means for the cluster', '');
    if (derived.length > 0) lines.push(...derived.map(consequenceLine));
    else lines.push('No pods roll, no Job runs, no Helm release upgrades.');
    const quiet = consequences.filter((c) => (c.kind === 'update' || c.kind === 'replace') && /(rolls|restarts) nothing/.test(c.reason));
    if (quiet.length > 0) lines.push(...quiet.map((c) => `- **rolls nothing** \`${c.address}\`: ${c.reason}`));
    lines.push('', '### Resources', '');
    const rows = resources.map((r) => {
      const own = consequences.find((c) => c.address === r.address && c.kind === r.action);
      return [`${r.action}${own?.destructive ? ' ⚠️ destructive' : ''}`, `\`${r.address}\``, r.object, own?.reason ?? ''];
    });
    lines.push(...table(['Change', 'Address', 'Object', 'Why'], rows), '');
  }
  const unchanged = review.stacks.filter((s) => s.status === 'unchanged').map((s) => `\`${s.name}\``);
  if (unchanged.length > 0) lines.push(`Unchanged: ${unchanged.join(', ')}.`, '');
  if (review.unreviewedTypes.length > 0) {
    lines.push(
      `**Not covered by the replacement table** (only metadata name and namespace checked; an "update" may be a replace): ${review.unreviewedTypes.map((t) => `\`${t}\``).join(', ')}. See docs/review.md.`,
      '',
    );
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
