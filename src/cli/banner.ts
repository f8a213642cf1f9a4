import type { Gateway } from '../gateway.js';

/** The start-up banner: where everything is, for the person who just ran `npm start`. */
export function banner(gateway: Gateway, configPath: string): string {
  const url = gateway.url;
  const platforms = new Set(gateway.adapters.map((a) => a.platform));
  const lines = [
    '',
    `  batchgate is running (${gateway.config.redis.url ? 'distributed' : 'embedded'} mode, processor: ${gateway.config.processor.type})`,
    '',
  ];
  if (platforms.has('web')) lines.push(`  web chat    ${url}/`);
  if (platforms.has('webhook')) lines.push(`  webhook     POST ${url}/v1/messages`);
  if (platforms.has('slack')) lines.push(`  slack       ${gateway.config.adapters.slack.mode === 'http' ? `POST ${url}/slack/events` : 'socket mode'}`);
  if (platforms.has('discord')) lines.push('  discord     connected', ...discordInvite(gateway));
  lines.push(`  dashboard   ${url}/dashboard`, `  admin API   ${url}/api/v1/channels`, `  metrics     ${url}/metrics`, `  health      ${url}/healthz`, '', `  config      ${configPath}`, '  stop        Ctrl+C (flushes open batches, then exits)', '', '');
  return lines.join('\n');
}

/** The invite URL the Discord adapter reports once connected (its exact permissions), if there is one. */
function discordInvite(gateway: Gateway): string[] {
  const adapter = gateway.adapters.find((a) => a.platform === 'discord') as { inviteUrl?: unknown } | undefined;
  return typeof adapter?.inviteUrl === 'string' && adapter.inviteUrl ? [`  invite bot  ${adapter.inviteUrl}`] : [];
}
