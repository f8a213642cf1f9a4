import { DiscordAPIError, DiscordjsErrorCodes, GatewayIntentBits, HTTPError } from 'discord.js';
import { AdapterError } from '../../src/errors.js';
import { DISCORD_PLATFORM } from './normalize.js';
import { privilegedToggles } from './requirements.js';

/** Gateway close codes that stop a bot for good, with what the operator has to change. */
const FATAL_CLOSE_CODES: Record<number, string> = {
  4004: 'Discord rejected the bot token on the gateway (close code 4004). Check adapters.discord.token (DISCORD_TOKEN): copy it again from the Developer Portal → your application → Bot → Reset Token',
  4013: 'Discord rejected the gateway intents as invalid (close code 4013); this is a batchgate bug, please report it',
};

/**
 * Close code 4014 (disallowed intents): the app asked for a privileged intent whose toggle is off. Names
 * each toggle the adapter's intents need, where it is, and the way around Message Content.
 */
function disallowedIntentsAdvice(intents: readonly GatewayIntentBits[]): string {
  const toggles = privilegedToggles(intents);
  const named = toggles.length > 0 ? toggles.map((t) => `"${t}"`).join(' and ') : 'the privileged intents it asks for';
  const around = intents.includes(GatewayIntentBits.MessageContent)
    ? ' (or set adapters.discord.mentionOnly: true, which does not need Message Content: Discord sends the text of mentions and DMs without it)'
    : '';
  return `Discord refused the gateway connection with close code 4014 (disallowed intents). Turn on ${named} in the Developer Portal → Applications → your application → Bot → Privileged Gateway Intents, save, then restart${around}`;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/** The advice for a fatal gateway close code, if it is one; `intents` are the ones the adapter sent. */
export function fatalCloseAdvice(code: number, intents: readonly GatewayIntentBits[]): string | undefined {
  if (code === 4014) return disallowedIntentsAdvice(intents);
  return FATAL_CLOSE_CODES[code];
}

/**
 * Turns whatever `client.login()` threw into an AdapterError that tells the operator what to fix.
 * `closeCode` is the gateway close code seen during start-up, if any (discord.js reports 4014 as a bare
 * "Used disallowed intents" error, so the code is captured from the shardDisconnect event instead).
 */
export function describeStartError(err: unknown, context: { apiBase: string; closeCode: number | null; intents: readonly GatewayIntentBits[] }): AdapterError {
  if (err instanceof AdapterError) return err;
  if (context.closeCode !== null) {
    const advice = fatalCloseAdvice(context.closeCode, context.intents);
    if (advice) return new AdapterError(DISCORD_PLATFORM, advice, err);
  }
  if (isDiscordjsError(err) && err.code === DiscordjsErrorCodes.TokenInvalid) {
    return new AdapterError(
      DISCORD_PLATFORM,
      'the bot token was rejected (401 Unauthorized from GET /gateway/bot). Check adapters.discord.token (DISCORD_TOKEN): copy it again from the Developer Portal → your application → Bot → Reset Token, without a "Bot " prefix',
      err,
    );
  }
  if (err instanceof DiscordAPIError || err instanceof HTTPError) {
    return new AdapterError(DISCORD_PLATFORM, `the Discord API answered ${err.status} to ${err.method} ${err.url} during start-up: ${err.message}`, err);
  }
  const network = networkCode(err);
  if (network) {
    return new AdapterError(
      DISCORD_PLATFORM,
      `cannot reach the Discord API at ${context.apiBase} (${network}). Check adapters.discord.apiUrl (leave it empty for the real Discord) and the network`,
      err,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AdapterError(DISCORD_PLATFORM, `could not connect: ${message}`, err);
}

function isDiscordjsError(err: unknown): err is Error & { code: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

/** Walks the `cause` chain (undici wraps socket errors) for a network error code. */
function networkCode(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}
