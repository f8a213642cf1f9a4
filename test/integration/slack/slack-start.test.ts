import { describe, expect, it, onTestFinished } from 'vitest';
import type { SlackAdapterOptions } from '../../../adapters/slack/index.js';
import { AdapterError, ErrorCode } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { startFakeSlack, type FakeSlackOptions } from '../../fakes/slack/index.js';
import { slackAdapterFor } from './harness.js';
import { watchUnhandledRejections } from '../../helpers/unhandled.js';

async function startAgainstFake(fakeOptions: FakeSlackOptions, adapter: Partial<SlackAdapterOptions>): Promise<{ err: unknown; calls: string[] }> {
  const fake = await startFakeSlack(fakeOptions);
  onTestFinished(() => fake.close());
  const slack = slackAdapterFor(fake, { requestTimeoutMs: 3_000, connectTimeoutMs: 5_000, ...adapter });
  onTestFinished(() => slack.close());
  const err = await slack.start({ accept: async () => ({ accepted: false, reason: ErrorCode.InvalidMessage }), logger: silentLogger(), signal: new AbortController().signal }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, calls: fake.calls.map((c) => c.method) };
}

/** Lets timers and stray promises of a failed start settle, so a late unhandled rejection would be seen. */
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('slack adapter start-up errors', () => {
  it('a bad bot token (auth.test invalid_auth) rejects start with an AdapterError naming slack and the key to fix', async () => {
    const unhandled = watchUnhandledRejections();
    const { err, calls } = await startAgainstFake({ authError: 'invalid_auth' }, {});
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe(ErrorCode.Adapter);
    expect((err as AdapterError).details).toEqual({ platform: 'slack' });
    expect((err as AdapterError).message).toMatch(/^slack adapter: .*invalid_auth.*adapters\.slack\.botToken/);
    expect(calls).toEqual(['auth.test']);
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('a bad app token in socket mode (apps.connections.open invalid_auth) names adapters.slack.appToken', async () => {
    const unhandled = watchUnhandledRejections();
    const { err } = await startAgainstFake({}, { mode: 'socket', appToken: 'xapp-wrong' });
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).message).toMatch(/^slack adapter: .*invalid_auth.*adapters\.slack\.appToken/);
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('an unreachable Web API names the URL, and missing credentials name the config key', async () => {
    const unhandled = watchUnhandledRejections();
    const { err } = await startAgainstFake({}, { apiUrl: 'http://127.0.0.1:9/api/' });
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).message).toMatch(/^slack adapter: cannot reach the Slack Web API at http:\/\/127\.0\.0\.1:9\/api\//);

    const missing = await startAgainstFake({}, { botToken: '' });
    expect((missing.err as AdapterError).message).toMatch(/adapters\.slack\.botToken/);
    expect(missing.calls).toEqual([]);
    const noSecret = await startAgainstFake({}, { signingSecret: '' });
    expect((noSecret.err as AdapterError).message).toMatch(/adapters\.slack\.signingSecret/);
    const noAppToken = await startAgainstFake({}, { mode: 'socket', appToken: '' });
    expect((noAppToken.err as AdapterError).message).toMatch(/adapters\.slack\.appToken/);
    await settle();
    expect(unhandled).toEqual([]);
  });
});
