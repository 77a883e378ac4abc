import { InfralogsError, type Entry } from '@infralogs/core';

/**
 * One ingest request: `{ host, entries }`, at most `maxBytes` serialized and `maxEntries` long —
 * or a single entry larger than `maxBytes` alone.
 */
export interface Batch {
  host: string;
  entries: Entry[];
  /** Each entry's JSON text, as sent (batchBody). */
  json: string[];
  /** Exact size of batchBody(batch). */
  bytes: number;
}

/**
 * The request body of a batch, `{"host":…,"entries":[…]}`, from the entries' JSON texts: the
 * same bytes as JSON.stringify({ host, entries }) when each text is JSON.stringify of its entry,
 * without serializing the entries again.
 */
export function batchBody(batch: Pick<Batch, 'host' | 'json'>): string {
  return `{"host":${JSON.stringify(batch.host)},"entries":[${batch.json.join(',')}]}`;
}

export interface BatchLimits {
  /** The size normal batches are filled to. */
  maxBytes: number;
  maxEntries: number;
  /** The largest entry taken (fetch-host truncates larger ones before); above maxBytes it goes alone. */
  maxEntryBytes: number;
}

/**
 * Cuts a host's entries, in order, into batches that fit ingest's body limit. The size is exact:
 * the body (batchBody) is the envelope plus each entry's JSON text plus one comma between entries.
 */
export class Batcher {
  private entries: Entry[] = [];
  private json: string[] = [];
  private bytes: number;
  private readonly emptyBytes: number;

  constructor(
    private readonly host: string,
    private readonly limits: BatchLimits,
  ) {
    this.emptyBytes = Buffer.byteLength(JSON.stringify({ host, entries: [] }));
    this.bytes = this.emptyBytes;
  }

  /**
   * Adds one entry, with its JSON text (the line it came in, when sent on as it is). Returns the batch that is complete without it (send that one first), or null.
   * An entry too large for a batch with others gets a batch of its own: the batch before it is
   * complete, and so is its own once the next entry arrives (or at flush). An entry over
   * maxEntryBytes is refused with PAYLOAD_TOO_LARGE.
   */
  add(entry: Entry, json: string = JSON.stringify(entry)): Batch | null {
    const size = Buffer.byteLength(json);
    if (size > this.limits.maxEntryBytes) {
      throw new InfralogsError('PAYLOAD_TOO_LARGE', 'one entry is larger than an entry may be', {
        details: { cursor: entry.cursor, bytes: size, maxEntryBytes: this.limits.maxEntryBytes },
      });
    }
    const separator = this.entries.length > 0 ? 1 : 0;
    let full: Batch | null = null;
    if (
      this.entries.length >= this.limits.maxEntries ||
      this.bytes + separator + size > this.limits.maxBytes
    ) {
      full = this.flush();
    }
    // After an entry over maxBytes the batch is over the limit: the next entry completes it.
    this.bytes += (this.entries.length > 0 ? 1 : 0) + size;
    this.entries.push(entry);
    this.json.push(json);
    return full;
  }

  /** The batch collected so far (null when empty); starts a new one. */
  flush(): Batch | null {
    if (this.entries.length === 0) return null;
    const batch: Batch = { host: this.host, entries: this.entries, json: this.json, bytes: this.bytes };
    this.entries = [];
    this.json = [];
    this.bytes = this.emptyBytes;
    return batch;
  }

  get pending(): number {
    return this.entries.length;
  }
}
