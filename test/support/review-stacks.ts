import { OmniglueConfigInput } from '../../config/schema';
import { STACK_NAMES } from '../../stacks';
import type { StackDocument } from '../../scripts/review/compare';
import { synthesize } from './synth';

/** Both synthesized stacks of a configuration, as the review reads them from cdktf.out. */
export function stackDocuments(input: OmniglueConfigInput): StackDocument[] {
  const synthesized = synthesize(input);
  return [
    { name: STACK_NAMES.platform, doc: JSON.parse(synthesized.platform.json) },
    { name: STACK_NAMES.serving, doc: JSON.parse(synthesized.serving.json) },
  ];
}
