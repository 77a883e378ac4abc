import { InfralogsError } from '@infralogs/core';

/**
 * One ingest request: `{ host, entries }`, at most `maxBytes` serialized and `maxEntries` long —
 * or a single entry larger than `maxBytes` alone.
 */
export interface Batch {
  host: string;
  /**
   * Each entry's JSON text, as sent (batchBody). Only the texts are kept, not the parsed entries:
   * a batch lives until ingest commits it, long enough for V8 to move it to the old generation,
   * and the parsed copies tripled what fetch-host promoted (and its peak heap).
   */
  json: string[];
  /**
   * The position of its first line in the call (1 = the call's first entry), for the message
   * naming an invalid line. The lines are not parsed as they are read: ingest checks every entry,
   * and fetch-host parses a batch's lines only when it must (its last entry, an ingest refusal).
   */
  first: number;
  /** Exact size of batchBody(batch). */
  bytes: number;
}

/** Bytes of body written at a time: small Buffers that die young, never one of the batch's size. */
const BODY_PIECE = 64 * 1024;

/**
 * The request body of a batch, `{"host":…,"entries":[…]}`, from the entries' JSON texts, in
 * pieces of about 64 KiB: the same bytes as JSON.stringify({ host, entries }) when each text is
 * JSON.stringify of its entry, without serializing the entries again, and `batch.bytes` long.
 * Streamed rather than built whole: a megabyte body, as one string or Buffer, outlives the ingest
 * call and so waits for a full GC, and those bodies were most of fetch-host's peak memory.
 */
export function* batchBody(batch: Pick<Batch, 'host' | 'json' | 'bytes'>): Generator<Buffer> {
  let written = 0;
  let text = `{"host":${JSON.stringify(batch.host)},"entries":[`;
  for (let i = 0; i < batch.json.length; i++) {
    if (i > 0) text += ',';
    text += batch.json[i]!;
    if (text.length >= BODY_PIECE) {
      const piece = Buffer.from(text, 'utf8');
      written += piece.length;
      yield piece;
      text = '';
    }
  }
  const last = Buffer.from(`${text}]}`, 'utf8');
  written += last.length;
  if (written !== batch.bytes)
    throw new InfralogsError('INTERNAL', `batch body is ${written} bytes, not the ${batch.bytes} counted`);
  yield last;
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
  private json: string[] = [];
  private first = 1;
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
   * Adds one entry's JSON text (the line it came in, when sent on as it is), at `position` in the
   * call. Returns the batch that is complete without it (send that one first), or null.
   * An entry too large for a batch with others gets a batch of its own: the batch before it is
   * complete, and so is its own once the next entry arrives (or at flush). An entry over
   * maxEntryBytes is refused with PAYLOAD_TOO_LARGE.
   */
  add(json: string, position: number): Batch | null {
    const size = Buffer.byteLength(json);
    if (size > this.limits.maxEntryBytes) {
      throw new InfralogsError('PAYLOAD_TOO_LARGE', 'one entry is larger than an entry may be', {
        details: { position, bytes: size, maxEntryBytes: this.limits.maxEntryBytes },
      });
    }
    const separator = this.json.length > 0 ? 1 : 0;
    let full: Batch | null = null;
    if (this.json.length >= this.limits.maxEntries || this.bytes + separator + size > this.limits.maxBytes) {
      full = this.flush();
    }
    // After an entry over maxBytes the batch is over the limit: the next entry completes it.
    this.bytes += (this.json.length > 0 ? 1 : 0) + size;
    if (this.json.length === 0) this.first = position;
    this.json.push(json);
    return full;
  }

  /** The batch collected so far (null when empty); starts a new one. */
  flush(): Batch | null {
    if (this.json.length === 0) return null;
    const batch: Batch = { host: this.host, json: this.json, first: this.first, bytes: this.bytes };
    this.json = [];
    this.bytes = this.emptyBytes;
    return batch;
  }

  get pending(): number {
    return this.json.length;
  }
}

/** The batch's first `count` entries, as a batch of their own (a batch cut at an invalid line). */
export function leadingPart(batch: Batch, count: number): Batch {
  const json = batch.json.slice(0, count);
  const envelope = Buffer.byteLength(JSON.stringify({ host: batch.host, entries: [] }));
  const bytes = json.reduce((sum, j) => sum + Buffer.byteLength(j), envelope + Math.max(0, count - 1));
  return { host: batch.host, json, first: batch.first, bytes };
}
