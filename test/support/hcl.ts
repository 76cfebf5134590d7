import { TerraformStack } from 'cdktf';
import { Worker } from 'worker_threads';

/**
 * The HCL `cdktf synth --hcl` writes for a stack: with SYNTH_HCL_OUTPUT set, cdktf's StackSynthesizer writes
 * `stack.toHclTerraform().hcl` as cdk.tf (cdktf/lib/synthesize/synthesizer.js); calling the method here instead of
 * running the app keeps the test in-process. The CLI then reformats each file with @cdktf/hcl-tools' `format`
 * (@cdktf/cli-core, SynthStack.formatHclFiles), which changes whitespace only: both stacks, default and example
 * configuration, parse to the same documents with and without it (checked once; the formatter takes seconds here).
 */
export function renderHcl(stack: TerraformStack): string {
  return stack.toHclTerraform().hcl;
}

/** What Terraform's JSON output holds: cdk.tf.json is `stack.toTerraform()` written out (synthesizer.js). */
export function renderJson(stack: TerraformStack): any {
  return JSON.parse(JSON.stringify(stack.toTerraform()));
}

const WORKER = `
const { parentPort, workerData } = require('worker_threads');
const { parse } = require(workerData.hcl2json);
(async () => {
  const results = [];
  for (const text of workerData.texts) results.push(await parse('cdk.tf', text));
  parentPort.postMessage(results);
})().catch((error) => parentPort.postMessage({ error: String((error && error.stack) || error) }));
`;

/**
 * Parses each HCL text with @cdktf/hcl2json: HashiCorp's HCL parser (hashicorp/hcl v2) compiled to WebAssembly,
 * independent of cdktf's renderer. Its Go runtime keeps timers alive after heavy use, which would hold Jest open,
 * so it runs in a worker thread that is terminated afterwards.
 */
export async function parseHcl(texts: string[]): Promise<any[]> {
  const worker = new Worker(WORKER, { eval: true, workerData: { texts, hcl2json: require.resolve('@cdktf/hcl2json') } });
  try {
    const message: any[] | { error: string } = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (!Array.isArray(message)) throw new Error(`parsing the HCL failed: ${message.error}`);
    return message;
  } finally {
    await worker.terminate();
  }
}
