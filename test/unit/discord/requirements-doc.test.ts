import { readFile } from 'node:fs/promises';
import { GatewayIntentBits, PermissionFlagsBits } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { DISCORD_PERMISSION_BITS, discordIntents } from '../../../adapters/discord/index.js';
import { REPO_ROOT } from '../../helpers/spawn-gateway.js';

describe('docs/platforms/discord.md matches what the adapter asks of Discord', () => {
  it('the invite URL shown in the docs carries the permission bits the adapter uses', async () => {
    const doc = await readFile(`${REPO_ROOT}/docs/platforms/discord.md`, 'utf8');
    const shown = [...doc.matchAll(/oauth2\/authorize\?[^\s)]*permissions=(\d+)/g)].map((m) => m[1]);
    const expected = PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.SendMessagesInThreads | PermissionFlagsBits.ReadMessageHistory;
    expect(DISCORD_PERMISSION_BITS).toBe(expected);
    expect(shown.length).toBeGreaterThan(0);
    expect(new Set(shown)).toEqual(new Set([expected.toString()]));
  });

  it('the intents the docs name are the ones the adapter asks for, the typing intents among them', async () => {
    const doc = await readFile(`${REPO_ROOT}/docs/platforms/discord.md`, 'utf8');
    const paragraph = /\*\*Gateway intents\.\*\*([\s\S]*?)\n\n/.exec(doc)?.[1] ?? '';
    const named = new Set([...paragraph.matchAll(/`(\w+)`/g)].map((m) => m[1]).filter((n) => n !== undefined && n in GatewayIntentBits));
    const asked = new Set(discordIntents({ mentionOnly: false }).map((i) => GatewayIntentBits[i]));
    expect(named).toEqual(asked);
    expect(asked).toContain('GuildMessageTyping');
    expect(asked).toContain('DirectMessageTyping');
  });

  it('mentionOnly drops the privileged Message Content intent and nothing else', () => {
    const all = discordIntents({ mentionOnly: false });
    const mentionOnly = discordIntents({ mentionOnly: true });
    expect(all.filter((i) => !mentionOnly.includes(i)).map((i) => i.toString())).toEqual([(1 << 15).toString()]);
  });
});
