import type { FastifyInstance } from 'fastify';
import { InvalidSettingsError } from '../../errors.js';
import type { BatchingEngine } from '../../core/engine.js';
import { settingsOverrideSchema, settingsRuleIssues, type ChannelSettings, type SettingsOverride } from '../../core/policy.js';
import type { AdminHost } from '../host.js';
import { channelKeyParams } from '../schemas.js';
import { defineRoute } from '../validated-route.js';
import { requireKnown } from './channels.js';

/** `{ effective, override }`; an empty override (a PUT of `{}`) reads as none. */
async function settingsOf(queue: BatchingEngine, key: string): Promise<{ effective: ChannelSettings; override: SettingsOverride | null }> {
  const { effective, override } = await queue.getSettings(key);
  return { effective, override: override && Object.keys(override).length > 0 ? override : null };
}

function stripUndefined(override: SettingsOverride): SettingsOverride {
  return Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined));
}

/**
 * `/api/v1/channels/:key/settings`: the per-channel override. PUT merges a partial object into the
 * override and takes effect at once (an open window is re-timed). Unknown channel: 404, like every
 * per-channel route; pre-configure channels that have not spoken yet with `batching.channels` in config.
 */
export function registerSettingsRoutes(app: FastifyInstance, host: AdminHost): void {
  const { queue } = host;
  const url = '/api/v1/channels/:key/settings';

  defineRoute(app, 'GET', url, { params: channelKeyParams }, async ({ params }) => {
    await requireKnown(queue, params.key);
    return settingsOf(queue, params.key);
  });

  defineRoute(
    app,
    'PUT',
    url,
    { params: channelKeyParams, body: settingsOverrideSchema, invalidBody: (issues) => new InvalidSettingsError(issues) },
    async ({ params, body }) => {
      await requireKnown(queue, params.key);
      // The override must leave the channel with settings the config file would accept.
      const { effective } = await queue.getSettings(params.key);
      const issues = settingsRuleIssues({ ...effective, ...stripUndefined(body) });
      if (issues.length > 0) throw new InvalidSettingsError(issues);
      await queue.setSettings(params.key, body);
      return settingsOf(queue, params.key);
    },
  );

  defineRoute(app, 'DELETE', url, { params: channelKeyParams }, async ({ params }) => {
    await requireKnown(queue, params.key);
    await queue.deleteSettings(params.key);
    return settingsOf(queue, params.key);
  });
}
