import { Cron } from 'croner';
import { parseDuration } from './duration';

/**
 * cron-connector schedules (robfig/cron v3 with its standard parser): five fields, the @hourly-style
 * descriptors and `@every <duration>`. No seconds field, and always UTC: the connector's image has no
 * tzdata, so a CRON_TZ= prefix would make it drop the function silently.
 */
export type Schedule = { kind: 'cron'; pattern: string } | { kind: 'every'; ms: number };

export function parseSchedule(text: string, options: { seconds?: boolean } = {}): Schedule {
  const value = text.trim();
  if (/^(CRON_)?TZ=/.test(value)) {
    throw new Error('time zone prefixes are not supported: the cron-connector runs schedules in UTC');
  }
  if (value.startsWith('@every ')) {
    const ms = parseDuration(value.slice('@every '.length));
    if (ms === undefined || ms <= 0)
      throw new Error(`"${value}" needs a positive duration such as @every 10m`);
    return { kind: 'every', ms: Math.max(ms, 1000) };
  }
  // Seconds are a test hook of the local gateway only; stack.yml is always checked with five fields.
  const job = new Cron(value, {
    mode: options.seconds ? '5-or-6-parts' : '5-part',
    timezone: 'UTC',
    paused: true,
  });
  job.stop();
  return { kind: 'cron', pattern: value };
}
