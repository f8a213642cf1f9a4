import { describe, expect, it } from 'vitest';
import { attachmentFrameBytes, parseClientFrame } from '../../../adapters/web/protocol.js';

const frame = (attachment: Record<string, unknown>, text = '') => JSON.stringify({ type: 'message', text, clientId: 'c1', attachment });
const dataUrl = (bytes: Buffer, type = 'text/plain') => `data:${type};base64,${bytes.toString('base64')}`;

describe('web chat attachment frames', () => {
  it('takes a base64 data URL whose size matches, with or without text', () => {
    const bytes = Buffer.from('hello');
    const parsed = parseClientFrame(frame({ name: 'a.txt', type: 'text/plain', size: 5, dataUrl: dataUrl(bytes) }), 4_000, 1_024);
    expect(parsed).toMatchObject({ ok: true, frame: { text: '', attachment: { name: 'a.txt', size: 5 } } });
  });

  it('refuses a size that does not match the data, a URL that is not base64 data, a file over the limit, and attachments turned off', () => {
    const bytes = Buffer.from('hello');
    const reason = (attachment: Record<string, unknown>, max = 1_024) => {
      const r = parseClientFrame(frame(attachment), 4_000, max);
      return r.ok ? 'ok' : r.error.reason;
    };
    expect(reason({ name: 'a', type: 'text/plain', size: 4, dataUrl: dataUrl(bytes) })).toBe('attachment.size (4) does not match its data (5 bytes)');
    expect(reason({ name: 'a', type: 'text/plain', size: 5, dataUrl: 'https://e.com/a.txt' })).toMatch(/base64 data: URL/);
    expect(reason({ name: 'a', type: 'text/plain', size: 2_000, dataUrl: dataUrl(Buffer.alloc(2_000)) })).toBe('the file is 2000 bytes; the limit is 1024 bytes');
    expect(reason({ name: 'a', type: 'text/plain', size: 5, dataUrl: dataUrl(bytes) }, 0)).toMatch(/turned off/);
    expect(reason({ name: '', type: 'text/plain', size: 5, dataUrl: dataUrl(bytes) })).toMatch(/bad "message" frame/);
  });

  it('a frame carrying the largest file fits the socket limit on top of maxFrameBytes', () => {
    const bytes = Buffer.alloc(65_536, 7);
    const size = Buffer.byteLength(frame({ name: 'n'.repeat(256), type: 'application/octet-stream', size: bytes.length, dataUrl: dataUrl(bytes, 'application/octet-stream') }));
    expect(size).toBeLessThanOrEqual(attachmentFrameBytes(65_536) + 512);
    expect(attachmentFrameBytes(0)).toBe(0);
  });
});
