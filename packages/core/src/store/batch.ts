import { z } from 'zod';
import { entrySchema, type Entry } from '../entry';
import { InfralogsError } from '../errors';

/** What ingest receives: one host's entries, in journal order. */
export interface IngestBatch {
  host: string;
  entries: Entry[];
}

const envelope = z.object({
  host: z.string().min(1).max(255),
  entries: z.array(z.unknown()),
});

function reason(issues: z.ZodError['issues']): string {
  const i = issues[0];
  if (!i) return 'invalid';
  return i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message;
}

/**
 * Checks a batch received over the wire before anything touches the database. Throws BAD_BATCH
 * naming the first bad entry's index and the reason; unknown envelope keys are ignored.
 */
export function validateBatch(body: unknown): IngestBatch {
  const outer = envelope.safeParse(body);
  if (!outer.success) {
    throw new InfralogsError('BAD_BATCH', `malformed batch: ${reason(outer.error.issues)}`, {
      details: { reason: reason(outer.error.issues) },
    });
  }
  const entries: Entry[] = new Array(outer.data.entries.length);
  for (let index = 0; index < entries.length; index++) {
    const r = entrySchema.safeParse(outer.data.entries[index]);
    if (!r.success) {
      const why = reason(r.error.issues);
      throw new InfralogsError('BAD_BATCH', `malformed batch: entry ${index}: ${why}`, {
        details: { index, reason: why },
      });
    }
    // entrySchema has no transforms or defaults: a valid input is its own output, and keeping it
    // spares a copy of every entry (time and memory on large batches).
    entries[index] = outer.data.entries[index] as Entry;
  }
  return { host: outer.data.host, entries };
}
