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
parentPort.on('message', async (texts) => {
  try {
    const results = [];
    for (const text of texts) results.push(await parse('cdk.tf', text));
    parentPort.postMessage(results);
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.stack) || error) });
  }
});
`;

let parser: Worker | undefined;

/**
 * Parses each HCL text with @cdktf/hcl2json: HashiCorp's HCL parser (hashicorp/hcl v2) compiled to WebAssembly,
 * independent of cdktf's renderer. Its Go runtime keeps timers alive after heavy use, which would hold Jest open,
 * so it runs in a worker thread, started once per test file (starting the runtime is most of the cost) and ended
 * by closeHclParser() in afterAll.
 */
export async function parseHcl(texts: string[]): Promise<any[]> {
  parser ??= new Worker(WORKER, { eval: true, workerData: { hcl2json: require.resolve('@cdktf/hcl2json') } });
  const worker = parser;
  const message: any[] | { error: string } = await new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    worker.once('error', onError);
    worker.once('message', (reply) => {
      worker.off('error', onError);
      resolve(reply);
    });
    worker.postMessage(texts);
  });
  if (!Array.isArray(message)) throw new Error(`parsing the HCL failed: ${message.error}`);
  return message;
}

/** Ends the parser's worker thread; call it in afterAll of every file that parses HCL. */
export async function closeHclParser(): Promise<void> {
  const worker = parser;
  parser = undefined;
  if (worker !== undefined) await worker.terminate();
}
