// One pino logger for the process; requests and jobs log through children carrying their correlation id.
import { pino, type DestinationStream, type Level } from 'pino';

/** Where credentials can sit in what the service logs: they are replaced before a line is written. */
const SECRETS = [
  'authorization',
  'token',
  '*.authorization',
  '*.token',
  'req.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'connectionParams',
  '*.connectionParams',
];

export function createLogger(level: Level | 'silent', destination?: DestinationStream) {
  const options = { level, base: { service: 'credit-deployment' }, redact: { paths: SECRETS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

export type Logger = ReturnType<typeof createLogger>;
