/** A problem the user fixes (missing synth output, bad flag, unknown git ref): printed without a stack trace. */
export class ReviewError extends Error {}
