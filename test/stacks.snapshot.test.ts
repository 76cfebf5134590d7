import { synthesize } from './support/synth';

// A snapshot change is a change to what users deploy: review the diff, then update with `npx jest -u`.
describe('synthesized stacks with the default configuration', () => {
  const { platform, serving } = synthesize();

  test('gpu-platform', () => {
    expect(JSON.parse(platform.json)).toMatchSnapshot();
  });

  test('omniglue-serving', () => {
    expect(JSON.parse(serving.json)).toMatchSnapshot();
  });
});
