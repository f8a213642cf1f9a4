import { pino, type Logger, type LevelWithSilent } from 'pino';

/** The root logger; created once by the entry point and passed down. Secrets are redacted by path. */
export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'batchgate' },
      redact: {
        paths: ['token', '*.token', '*.botToken', '*.appToken', '*.signingSecret', '*.secret', '*.apiKey', 'headers.authorization', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
