// cdktf records a full stack trace, source-mapped under Jest, for every token it creates, to say where a token was
// made when it fails to resolve. The tests never read those traces, and they cost about a third of every synth.
// Only this small module is loaded here: suites that never synthesize do not pay for cdktf.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('cdktf/lib/tokens/private/stack-trace').captureStackTrace = (): string[] => [];
