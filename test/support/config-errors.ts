import { ConfigError, parseConfig } from '../../config/load';

/** The message parseConfig refuses `input` with; fails the test when it is accepted or throws anything else. */
export function configRejection(input: unknown): string {
  try {
    parseConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be rejected');
}
