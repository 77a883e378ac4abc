import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { cpuSecondsOfStat, peakRssMbOfStatus, processCost } from '../src/proc';

describe('processCost', () => {
  it('reads utime+stime+cutime+cstime after the last parenthesis of the command name', () => {
    // A command name with a space and a ')' in it, as a process may name itself.
    const stat = '4242 (a) b) S 1 4242 4242 0 -1 4194304 120 0 0 0 250 50 30 20 20 0 1 0 100 1000 10';
    expect(cpuSecondsOfStat(stat, 100)).toBe(3.5);
    expect(() => cpuSecondsOfStat('4242 (short) S 1', 100)).toThrow(/not a \/proc/);
  });

  it('reads VmHWM in MB', () => {
    expect(peakRssMbOfStatus('Name:\tnode\nVmPeak:\t 9000 kB\nVmHWM:\t   51200 kB\n')).toBe(50);
    expect(() => peakRssMbOfStatus('Name:\tnode\n')).toThrow(/VmHWM/);
  });

  it("counts a child's CPU once the parent has waited for it", async () => {
    const before = processCost(process.pid).cpuSeconds;
    const child = spawn('sh', ['-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done']);
    await once(child, 'exit');
    const self = processCost(process.pid);
    // The shell's loop is its own CPU time, reaped by this process: it adds to cutime.
    expect(self.cpuSeconds).toBeGreaterThan(before);
    expect(self.peakRssMb).toBeGreaterThan(10);
  });
});
