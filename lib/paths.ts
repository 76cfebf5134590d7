import * as path from 'path';

/**
 * The repository root. Every module of the app lives one directory below it, and so does the bundle the
 * synth command runs (.gen/app.cjs), so the same relative step works in both.
 */
export const REPOSITORY_ROOT = path.resolve(__dirname, '..');
