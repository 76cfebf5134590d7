import type { IConstruct } from 'constructs';

/**
 * A construct's refusal of its props, carrying the construct's path so that the user finds which construct of the
 * tree refused what. Modelled on aws-cdk's `ValidationError(message, scope)` (aws-cdk-lib core/lib/errors.ts,
 * `ConstructError`, which keeps `constructPath` and adds the path to the stack trace); the message itself stays the
 * user's terms, so tests and callers match it as before.
 */
export class ValidationError extends Error {
  /** Path of the construct that refused its props, e.g. `omniglue-serving/triton`. */
  readonly constructPath: string;

  constructor(message: string, scope: IConstruct) {
    super(message);
    this.name = 'ValidationError';
    this.constructPath = scope.node.path;
    // What Node prints for an uncaught error: the message, the construct, then where it was thrown.
    const stack = this.stack ?? '';
    const frames = stack.includes('\n    at ') ? stack.slice(stack.indexOf('\n    at ')) : '';
    this.stack = `${this.name}: ${message}\n    at path [${this.constructPath}]${frames}`;
  }
}

/**
 * A refusal by code that belongs to no construct (a helper in lib/ that checks settings), as aws-cdk's
 * `UnscopedValidationError`; the construct that called it rethrows it with its path (`withConstructPath`).
 */
export class UnscopedValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** Runs `produce`, turning an UnscopedValidationError it throws into a ValidationError of `scope`. */
export function withConstructPath<T>(scope: IConstruct, produce: () => T): T {
  try {
    return produce();
  } catch (error) {
    if (error instanceof UnscopedValidationError) throw new ValidationError(error.message, scope);
    throw error;
  }
}
