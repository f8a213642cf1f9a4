import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SLACK_KEPT_DATA_SCOPES, SLACK_LISTENER_EVENTS, SLACK_METHOD_SCOPES, slackBotEvents, slackBotScopes } from '../../../adapters/slack/index.js';
import { REPO_ROOT } from '../../helpers/spawn-gateway.js';

interface Manifest {
  features?: { app_home?: { messages_tab_enabled?: unknown; messages_tab_read_only_enabled?: unknown } };
  oauth_config?: { scopes?: { bot?: string[] } };
  settings?: { event_subscriptions?: { bot_events?: string[]; request_url?: string }; socket_mode_enabled?: unknown };
}

/** The app manifest a reader pastes from docs/platforms/slack.md: the YAML block holding `oauth_config`. */
async function docManifest(): Promise<Manifest> {
  const doc = await readFile(`${REPO_ROOT}/docs/platforms/slack.md`, 'utf8');
  const blocks = [...doc.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const manifests = blocks.filter((b) => b.includes('oauth_config:'));
  expect(manifests, 'exactly one manifest block in docs/platforms/slack.md').toHaveLength(1);
  return parse(manifests[0]!) as Manifest;
}

describe('the Slack manifest in docs/platforms/slack.md matches what the adapter does', () => {
  it('opens the Messages tab for sending, so DMs reach the bot', async () => {
    const manifest = await docManifest();
    expect(manifest.features?.app_home).toMatchObject({ messages_tab_enabled: true, messages_tab_read_only_enabled: false });
  });

  it('asks for exactly the bot scopes the adapter calls, listens and hands on with', async () => {
    const scopes = (await docManifest()).oauth_config?.scopes?.bot ?? [];
    expect([...scopes].sort()).toEqual(slackBotScopes());
    // Spelled out, so a change of the lists above shows up here too.
    expect(Object.keys(SLACK_METHOD_SCOPES).sort()).toEqual(['auth.test', 'chat.postEphemeral', 'chat.postMessage', 'chat.update', 'reactions.add', 'reactions.remove', 'users.info']);
    expect(SLACK_KEPT_DATA_SCOPES).toEqual(['files:read']);
  });

  it('subscribes to exactly the bot events behind the listeners the adapter registers', async () => {
    const events = (await docManifest()).settings?.event_subscriptions?.bot_events ?? [];
    expect([...events].sort()).toEqual(slackBotEvents().sort());
    expect(Object.keys(SLACK_LISTENER_EVENTS).sort()).toEqual(['app_mention', 'message']);
  });

  it('points HTTP mode at the route the adapter mounts', async () => {
    const manifest = await docManifest();
    expect(new URL(manifest.settings?.event_subscriptions?.request_url ?? '').pathname).toBe('/slack/events');
    expect(manifest.settings?.socket_mode_enabled).toBe(false);
  });
});
