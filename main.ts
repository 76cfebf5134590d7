import { App } from 'cdktf';
import { ConfigError, loadConfig } from './config/load';
import { createStacks } from './stacks';

function main(): void {
  const app = new App();
  createStacks(app, loadConfig());
  app.synth();
}

try {
  main();
} catch (error) {
  // A configuration error is the user's to fix: print it without a stack trace, and synthesize nothing.
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
