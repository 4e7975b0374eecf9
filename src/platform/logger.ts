// One pino logger for the process; requests and jobs log through children carrying their correlation id.
import { pino, type Level } from 'pino';

export function createLogger(level: Level | 'silent') {
  return pino({
    level,
    base: { service: 'credit-deployment' },
    redact: ['req.headers.authorization', 'authorization', 'token'],
  });
}

export type Logger = ReturnType<typeof createLogger>;
