// Jest's global set-up: stop with one line when a system package the suites need is missing (see
// scripts/setup/check.mjs), instead of a traceback from every suite that starts Python.
import { missingPackagesMessage } from '../../scripts/setup/check.mjs';

export default function checkSystemPackages() {
  const message = missingPackagesMessage();
  if (message !== undefined) {
    console.error(`\n${message}`);
    process.exit(1);
  }
}
