import { InfralogsError } from '@infralogs/core';
import { badLine } from './entry-line';

/**
 * One ingest request: `{ host, entries }`, at most `maxBytes` and `maxEntries` long — or a single
 * entry larger than `maxBytes` alone.
 */
export interface Batch {
  host: string;
  /**
   * The request body, `{"host":…,"entries":[…]}`, each entry the bytes of its line as the agent
   * sent it. Entries are copied into it as they are read and never held as strings: a batch
   * lives until ingest commits it, long enough for V8 to move what it holds to the old
   * generation, and strings and parsed copies made most of fetch-host's GC work and peak heap.
   * Once the batch is stored and recycled (Batcher.recycle), a later batch is written into it.
   */
  body: Buffer;
  /** Where each entry starts in `body`; each ends at the comma before the next, the last at `]}`. */
  starts: number[];
  /**
   * The position of its first entry in the call (1 = the call's first), for the message naming
   * an invalid line. The lines are not parsed as they are read: ingest checks every entry, and
   * fetch-host parses a batch's lines only when it must (its last entry, an ingest refusal).
   */
  first: number;
}

/** The text of a batch's entry `i`, as sent. */
export function entryText(batch: Batch, i: number): string {
  const end = i + 1 < batch.starts.length ? batch.starts[i + 1]! - 1 : batch.body.length - 2;
  return batch.body.toString('utf8', batch.starts[i], end);
}

/** The texts of all its entries (to check them, when ingest refused the batch). */
export function entryTexts(batch: Batch): string[] {
  return batch.starts.map((_, i) => entryText(batch, i));
}

/** The batch's first `count` entries (count ≥ 1), as a batch of their own (a batch cut at an invalid line). */
export function leadingPart(batch: Batch, count: number): Batch {
  if (count >= batch.starts.length) return batch;
  const content = batch.body.subarray(0, batch.starts[count]! - 1);
  return { ...batch, body: Buffer.concat([content, END]), starts: batch.starts.slice(0, count) };
}

export interface BatchLimits {
  /** The size normal batches are filled to. */
  maxBytes: number;
  maxEntries: number;
  /** The largest entry taken (fetch-host truncates larger ones before); above maxBytes it goes alone. */
  maxEntryBytes: number;
}

const COMMA = 44;
const END = Buffer.from(']}');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const white = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;

/**
 * Whether `line` holds one JSON object and nothing else but white space: it opens with `{`, and
 * its brackets, counted outside strings, close for the first time at its last byte. A body is
 * written from entries' bytes as they came, so this is what keeps an entry from ending the
 * entries array (`…}],"host":"other","entries":[{…`): a parser that accepts the body counts the
 * same brackets. Whatever else is wrong inside the object, ingest's parse finds. A scan of bytes
 * (strings skipped with indexOf), far cheaper than parsing the line.
 */
export function oneObject(line: Buffer): boolean {
  let end = line.length;
  while (end > 0 && white(line[end - 1]!)) end--;
  let p = 0;
  while (p < end && white(line[p]!)) p++;
  if (p >= end || line[p] !== 0x7b) return false;
  let depth = 0;
  for (; p < end; p++) {
    const b = line[p]!;
    if (b === QUOTE) {
      // To the closing quote: one not preceded by an odd run of backslashes.
      for (;;) {
        const q = line.indexOf(QUOTE, p + 1);
        if (q === -1 || q >= end) return false;
        let k = q - 1;
        while (line[k] === BACKSLASH) k--;
        p = q;
        if ((q - 1 - k) % 2 === 0) break;
      }
    } else if (b === 0x7b || b === 0x5b) {
      depth++;
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
      if (depth === 0) return p === end - 1;
    }
  }
  return false;
}

/**
 * Cuts a host's entries, in order, into batches that fit ingest's body limit, writing each
 * batch's body as the entries arrive: the envelope, each entry's bytes, one comma between them.
 * A batch's buffer is allocated once, at `maxBytes` (or the size of an entry larger than that).
 */
export class Batcher {
  private buf: Buffer | null = null;
  /** Buffers of stored batches, to fill again (at most two: one is with ingest, one being read). */
  private readonly spare: Buffer[] = [];
  /** The memory of the buffers this batcher allocated at maxBytes and that are in a batch: only those are filled again. */
  private readonly recyclable = new WeakSet<ArrayBufferLike>();
  private pos = 0;
  private starts: number[] = [];
  private first = 1;
  private readonly head: Buffer;

  constructor(
    private readonly host: string,
    private readonly limits: BatchLimits,
  ) {
    this.head = Buffer.from(`{"host":${JSON.stringify(host)},"entries":[`, 'utf8');
  }

  /**
   * Adds one entry's JSON bytes (the line it came in, when sent on as it is; copied at once), at
   * `position` in the call. Returns the batch that is complete without it (send that one first),
   * or null. An entry too large for a batch with others gets a batch of its own: the batch
   * before it is complete, and so is its own once the next entry arrives (or at flush). An entry
   * over maxEntryBytes is refused with PAYLOAD_TOO_LARGE, one that is not one JSON object
   * (oneObject) with UPSTREAM_FAILED; either is left out and the batch goes on without it.
   */
  add(json: Buffer, position: number): Batch | null {
    if (!oneObject(json)) throw badLine(position, 'not one JSON object');
    const size = json.length;
    if (size > this.limits.maxEntryBytes) {
      throw new InfralogsError('PAYLOAD_TOO_LARGE', 'one entry is larger than an entry may be', {
        details: { position, bytes: size, maxEntryBytes: this.limits.maxEntryBytes },
      });
    }
    let full: Batch | null = null;
    if (
      this.buf !== null &&
      (this.starts.length >= this.limits.maxEntries ||
        this.pos + 1 + size + END.length > this.limits.maxBytes)
    ) {
      full = this.flush();
    }
    if (this.buf === null) {
      const need = this.head.length + size + END.length;
      if (need > this.limits.maxBytes) this.buf = Buffer.allocUnsafe(need);
      else {
        this.buf = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.limits.maxBytes);
        this.recyclable.add(this.buf.buffer);
      }
      this.pos = this.head.copy(this.buf, 0);
      this.first = position;
    } else {
      this.buf[this.pos++] = COMMA;
    }
    this.starts.push(this.pos);
    this.pos += json.copy(this.buf, this.pos);
    return full;
  }

  /**
   * Takes back the buffer of a batch ingest has stored, to write a later batch into: a new
   * megabyte per batch made V8 collect for its external memory. Only once stored: until ingest
   * answered, the request may still be reading the body.
   */
  recycle(batch: Batch): void {
    const memory = batch.body.buffer;
    // Once only: a batch recycled twice must not give its buffer to two batches.
    if (!this.recyclable.delete(memory) || this.spare.length >= 2) return;
    this.spare.push(Buffer.from(memory, 0, this.limits.maxBytes));
  }

  /** The batch collected so far (null when empty); starts a new one. */
  flush(): Batch | null {
    if (this.buf === null) return null;
    this.pos += END.copy(this.buf, this.pos);
    const batch: Batch = {
      host: this.host,
      body: this.buf.subarray(0, this.pos),
      starts: this.starts,
      first: this.first,
    };
    this.buf = null;
    this.starts = [];
    return batch;
  }
}
