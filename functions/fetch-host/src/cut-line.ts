import { InfralogsError } from '@infralogs/core';

/**
 * A line too long to hold (journald allows fields of up to 768 MB): one flat JSON object — what the
 * agent sends per entry — read piece by piece, keeping of each string value only its leading part.
 */
export interface CutLine {
  /** The whole line's size in bytes. */
  bytes: number;
  /** The object as JSON, every long string value cut to its leading part: still valid JSON. */
  text: string;
  /**
   * The string values that were cut, by key: their full size in UTF-8 bytes once decoded, and
   * their last two characters (a base64 value's padding).
   */
  cut: Record<string, { bytes: number; tail: string }>;
}

/** Keys and scalars of an entry are short; anything longer is not an entry. */
const MAX_KEY_BYTES = 256;
const MAX_SCALAR_CHARS = 64;

type State = 'start' | 'firstKey' | 'key' | 'colon' | 'value' | 'string' | 'scalar' | 'afterValue' | 'end';

/**
 * Reads one flat JSON object (string, number, boolean and null values; no nesting) in pieces and
 * keeps of each string value at most `keepBytes` bytes of its JSON text, cut between characters
 * and never inside an escape. Memory stays bounded by the number of values × `keepBytes`, whatever
 * the line's length. Anything else than a flat object fails with UPSTREAM_FAILED.
 */
export class LineCutter {
  private readonly out: string[] = [];
  private readonly cut: CutLine['cut'] = {};
  private state: State = 'start';
  private bytes = 0;
  private key = '';
  private scalar = '';
  /** The string being read: a key or a value. */
  private str = { isKey: false, kept: [] as string[], keptBytes: 0, decodedBytes: 0, cut: false, tail: '' };
  /** An escape sequence begun but not complete at the end of a piece (`\`, `\u12`…). */
  private escape = '';

  constructor(private readonly keepBytes: number) {}

  /** The next piece of the line; pieces hold whole characters, as StringDecoder gives them. */
  write(piece: string): void {
    this.bytes += Buffer.byteLength(piece);
    let i = 0;
    while (i < piece.length) {
      if (this.state === 'string') {
        i = this.readString(piece, i);
        continue;
      }
      const c = piece[i]!;
      i += 1;
      if (this.state === 'scalar') {
        if (/[\s,}]/.test(c)) {
          this.out.push(this.scalar);
          this.state = 'afterValue';
          i -= 1; // the delimiter belongs to what follows
        } else if ((this.scalar += c).length > MAX_SCALAR_CHARS) {
          throw this.invalid();
        }
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
      this.structural(c);
    }
  }

  end(): CutLine {
    if (this.state === 'scalar') {
      this.out.push(this.scalar);
      this.state = 'afterValue';
    }
    if (this.state !== 'end') throw this.invalid();
    return { bytes: this.bytes, text: this.out.join(''), cut: this.cut };
  }

  private structural(c: string) {
    const expect = (ok: boolean) => {
      if (!ok) throw this.invalid();
    };
    switch (this.state) {
      case 'start':
        expect(c === '{');
        this.out.push('{');
        this.state = 'firstKey';
        return;
      case 'firstKey':
      case 'key':
        if (c === '}' && this.state === 'firstKey') {
          this.out.push('}');
          this.state = 'end';
          return;
        }
        expect(c === '"');
        this.openString(true);
        return;
      case 'colon':
        expect(c === ':');
        this.out.push(':');
        this.state = 'value';
        return;
      case 'value':
        expect(c !== '{' && c !== '[' && c !== ',' && c !== '}' && c !== ':');
        if (c === '"') {
          this.openString(false);
        } else {
          this.scalar = c;
          this.state = 'scalar';
        }
        return;
      case 'afterValue':
        expect(c === ',' || c === '}');
        this.out.push(c);
        this.state = c === ',' ? 'key' : 'end';
        return;
      default:
        throw this.invalid();
    }
  }

  private openString(isKey: boolean) {
    this.str = { isKey, kept: [], keptBytes: 0, decodedBytes: 0, cut: false, tail: '' };
    this.escape = '';
    this.state = 'string';
  }

  /** Reads string content from `i` on; returns where it stopped (the piece's end or after the quote). */
  private readString(piece: string, i: number): number {
    if (this.escape !== '') {
      while (i < piece.length && !escapeComplete(this.escape)) this.escape += piece[i++];
      if (!escapeComplete(this.escape)) return i;
      this.keep(
        this.escape,
        decodeEscape(this.escape, () => this.invalid()),
      );
      this.escape = '';
      return i;
    }
    const stop = nextSpecial(piece, i);
    if (stop > i) this.keep(piece.slice(i, stop), null);
    if (stop === piece.length) return stop;
    if (piece[stop] === '\\') {
      this.escape = '\\';
      return stop + 1;
    }
    this.closeString();
    return stop + 1;
  }

  /** Adds JSON text to the string, unless it no longer fits (then everything after is dropped too). */
  private keep(json: string, decoded: string | null) {
    const s = this.str;
    const text = decoded ?? json;
    s.decodedBytes += Buffer.byteLength(text);
    s.tail = (s.tail + text.slice(-2)).slice(-2);
    const limit = s.isKey ? MAX_KEY_BYTES : this.keepBytes;
    if (s.cut) return;
    const size = Buffer.byteLength(json);
    if (s.keptBytes + size <= limit) {
      s.kept.push(json);
      s.keptBytes += size;
      return;
    }
    if (s.isKey) throw this.invalid();
    // An escape is kept whole or not at all; plain text is cut between characters.
    if (decoded === null) s.kept.push(utf8Prefix(json, limit - s.keptBytes));
    s.cut = true;
  }

  private closeString() {
    const s = this.str;
    const text = s.kept.join('');
    this.out.push(`"${text}"`);
    if (s.isKey) {
      this.key = JSON.parse(`"${text}"`) as string;
      this.state = 'colon';
      return;
    }
    if (s.cut) this.cut[this.key] = { bytes: s.decodedBytes, tail: s.tail };
    this.state = 'afterValue';
  }

  private invalid() {
    return new InfralogsError(
      'UPSTREAM_FAILED',
      `agent sent a line of more than ${this.keepBytes} bytes that is not one flat JSON object`,
    );
  }
}

const SPECIAL = /["\\]/g;
function nextSpecial(piece: string, from: number): number {
  SPECIAL.lastIndex = from;
  return SPECIAL.exec(piece)?.index ?? piece.length;
}

const escapeComplete = (e: string) => (e.length >= 2 && e[1] !== 'u') || e.length === 6;

/** The text an escape stands for (a lone surrogate half counts 3 bytes, as Buffer would encode it). */
function decodeEscape(escape: string, invalid: () => Error): string {
  try {
    return JSON.parse(`"${escape}"`) as string;
  } catch {
    throw invalid();
  }
}

/** The longest prefix of `text` that is at most `maxBytes` in UTF-8, cut between characters. */
export function utf8Prefix(text: string, maxBytes: number): string {
  if (text.length <= maxBytes / 3) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}
