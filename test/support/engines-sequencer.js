// The engine tier's suites in path order, whatever Jest's timing cache says: deploy-cycle.test.ts runs before
// review-vs-plan.test.ts, so its inventory before the deploy is the bare cluster's and "what stays after destroy"
// is observed, not hidden by leftovers of the other suite (CRDs, Helm-created namespaces) in its baseline.
const Sequencer = require('@jest/test-sequencer').default;

class PathOrder extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => a.path.localeCompare(b.path));
  }
}

module.exports = PathOrder;
