// One pino logger for the process; requests and jobs log through children carrying their correlation id.
import { pino } from 'pino';
import { config } from './config.ts';

export const logger = pino({
  level: config.LOG_LEVEL,
  base: { service: 'credit-deployment' },
  redact: ['req.headers.authorization', 'authorization', 'token'],
});

export type Logger = typeof logger;
