export { startGateway } from './gateway';
export type {
  CallKind,
  CallRecord,
  FunctionInfo,
  Gateway,
  GatewayFunctionOptions,
  StartGatewayOptions,
} from './gateway';
export { CE_ASYNC_MAX_BODY } from './async-queue';
export { CRON_HEADERS, CronScheduler, type CronJobEntry } from './cron';
export type { Reply } from './proxy';
export { parseDuration } from './duration';
export { parseSchedule, type Schedule } from './schedule';
