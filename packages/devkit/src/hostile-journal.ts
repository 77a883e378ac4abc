import type { ExportEntry, ExportValue } from './journals';

/**
 * A journal built to break parsers, SQL and HTML (issue 11, hostile input): what a process on a
 * VM can put into its own journal entries (journald's trusted `_` fields too, through
 * journal-remote or a compromised host). `MSG_ID` names each case. Each case must be stored
 * faithfully (as core's entryFromFields maps journalctl's bytes), shortened (fetch-host's caps) or
 * refused with a recorded reason, and none may stop the host's collection.
 */
export const HOSTILE_BOOT_ID = '0badc0de0badc0de0badc0de0badc0de';

/** 16 MiB of printable text: journald keeps it, MEDIUMTEXT cannot (its limit is 16 MiB − 1). */
export const HOSTILE_HUGE_BYTES = 16 * 1024 * 1024;

/** The 1970 and 2100 timestamps (µs since the epoch). */
export const HOSTILE_1970_US = 1;
export const HOSTILE_2100_US = Date.UTC(2100, 0, 1, 12) * 1000;

const ansi = '\u001b[2J\u001b[H\u001b[31;1mred\u001b[0m \u001b]0;title\u0007 \u001b[6n';
const bidi = 'invoice\u202Egpj.exe \u2066isolate\u2069 \u200Fmark';

export function hostileEntries(hostname: string): ExportEntry[] {
  const many: Record<string, ExportValue> = {};
  for (let i = 0; i < 1000; i++) many[`FIELD_${String(i).padStart(4, '0')}`] = `value ${i}`;
  const cases: Record<string, ExportValue | ExportValue[]>[] = [
    { MSG_ID: 'nul', MESSAGE: Buffer.from('before\0after\0'), SYSLOG_IDENTIFIER: Buffer.from('id\0nul') },
    {
      MSG_ID: 'invalid-utf8-message',
      MESSAGE: Buffer.from([0x62, 0x61, 0x64, 0xc3, 0x28, 0xa0, 0xa1, 0xff]),
    },
    {
      MSG_ID: 'invalid-utf8-fields',
      MESSAGE: 'the other fields are not UTF-8',
      SYSLOG_IDENTIFIER: Buffer.from([0x69, 0x64, 0xfe, 0xff]),
      _COMM: Buffer.from([0x63, 0xc0, 0xaf]),
      _SYSTEMD_UNIT: Buffer.from([0x75, 0xed, 0xa0, 0x80, 0x2e, 0x73]),
    },
    { MSG_ID: 'huge', MESSAGE: 'H'.repeat(HOSTILE_HUGE_BYTES) },
    { MSG_ID: 'thousand-fields', MESSAGE: 'an entry with 1000 fields', ...many },
    {
      MSG_ID: 'long-field-names',
      MESSAGE: 'field names of 64 characters',
      ['A'.repeat(64)]: 'a',
      [`X_${'9'.repeat(62)}`]: 'b',
    },
    { MSG_ID: 'priority-99', MESSAGE: 'PRIORITY=99', PRIORITY: '99' },
    { MSG_ID: 'priority-minus-1', MESSAGE: 'PRIORITY=-1', PRIORITY: '-1' },
    { MSG_ID: 'pid-abc', MESSAGE: '_PID=abc', _PID: 'abc' },
    { MSG_ID: 'forged-hostname', MESSAGE: 'claims another host', _HOSTNAME: "web-1'; --<b>" },
    {
      MSG_ID: 'sql',
      MESSAGE: "'; DROP TABLE logs; --",
      SYSLOG_IDENTIFIER: "x'); DELETE FROM hosts; -- ",
      _SYSTEMD_UNIT: '`logs`\\\\"; SHUTDOWN; #',
    },
    {
      MSG_ID: 'html',
      MESSAGE: '<script>alert(1)</script><img src=x onerror=alert(2)>',
      SYSLOG_IDENTIFIER: '<svg/onload=alert(3)>',
      _SYSTEMD_UNIT: '"><script>alert(4)</script>.service',
    },
    { MSG_ID: 'ansi', MESSAGE: ansi, SYSLOG_IDENTIFIER: '\u001b[31mid' },
    { MSG_ID: 'bidi', MESSAGE: bidi, SYSLOG_IDENTIFIER: '\u202Edi' },
    {
      MSG_ID: 'year-1970',
      MESSAGE: 'the first microsecond of 1970',
      __REALTIME_TIMESTAMP: String(HOSTILE_1970_US),
    },
    { MSG_ID: 'year-2100', MESSAGE: 'noon on 1 January 2100', __REALTIME_TIMESTAMP: String(HOSTILE_2100_US) },
  ];
  const base = Date.UTC(2026, 0, 2) * 1000;
  return cases.map((fields, i) => ({
    __REALTIME_TIMESTAMP: String(base + i * 1_000_000),
    __MONOTONIC_TIMESTAMP: String(1_000_000 + i * 1_000_000),
    _BOOT_ID: HOSTILE_BOOT_ID,
    _TRANSPORT: 'journal',
    _HOSTNAME: hostname,
    PRIORITY: '6',
    _PID: '4242',
    ...fields,
  }));
}
