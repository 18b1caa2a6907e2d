/**
 * The completion sink alone: what it asks the proactor to submit, and how completions (short
 * ones included) move its queue on. No kernel involved: completions are simulated.
 */
import { closeSync, openSync, writeFileSync, mkdtempSync, rmSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CompletionSink } from '../src/completion-sink.js';

const dir = mkdtempSync(join(tmpdir(), 'sink-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (s: string) => Buffer.from(s);

describe('CompletionSink', () => {
  it('gathers consecutive chunks into one writev and keeps the tail of a short send', () => {
    const scheduled: CompletionSink[] = [];
    const sink = new CompletionSink((s) => scheduled.push(s));
    sink.write(bytes('abc'));
    sink.write(bytes('defg'));
    expect(scheduled).toHaveLength(1); // once until the proactor clears flushScheduled
    expect(sink.pendingBytes).toBe(7);
    let next = sink.next()!;
    expect(next.kind).toBe('bytes');
    if (next.kind !== 'bytes') return;
    expect(next.bufs.slice(next.start, next.start + next.count).map((b) => Buffer.from(b).toString())).toEqual(['abc', 'defg']);
    sink.sent(4); // short: 'abc' and 'd'
    expect(sink.pendingBytes).toBe(3);
    next = sink.next()!;
    if (next.kind !== 'bytes') throw new Error('expected bytes');
    expect(Buffer.from(next.bufs[next.start]!).toString()).toBe('efg');
    sink.sent(3);
    expect(sink.pendingBytes).toBe(0);
    expect(sink.next()).toBeUndefined();
  });

  it('reads a file in chunks and sends each before reading on; closes it when sent', () => {
    const path = join(dir, 'f');
    writeFileSync(path, Buffer.alloc(100_000, 7));
    const fd = openSync(path, 'r');
    const sink = new CompletionSink(() => {});
    sink.write(bytes('HEAD'));
    sink.sendFile(fd, 10, 99_990);
    expect(sink.pendingBytes).toBe(4 + 99_990);
    let next = sink.next()!;
    expect(next).toMatchObject({ kind: 'bytes', count: 1 }); // the header alone: a file is never gathered
    sink.sent(4);
    next = sink.next()!;
    expect(next).toEqual({ kind: 'read', fd, offset: 10, length: 65_536 });
    const buf = Buffer.alloc(65_536, 7);
    sink.fileRead(65_536, buf);
    next = sink.next()!;
    if (next.kind !== 'bytes') throw new Error('expected bytes');
    expect(next.bufs[next.start]!.length).toBe(65_536);
    sink.sent(65_000); // short
    next = sink.next()!;
    if (next.kind !== 'bytes') throw new Error('expected bytes');
    expect(next.bufs[next.start]!.length).toBe(536);
    sink.sent(536);
    expect(sink.next()).toEqual({ kind: 'read', fd, offset: 65_546, length: 34_454 });
    sink.fileRead(34_454, buf);
    sink.sent(34_454);
    expect(sink.pendingBytes).toBe(0);
    expect(() => fstatSync(fd)).toThrow(/EBADF/); // the sink closed the file
  });

  it('dispose closes unsent files, drops later writes, and keeps an in-flight queue alive', () => {
    const path = join(dir, 'g');
    writeFileSync(path, 'x'.repeat(10));
    const fd = openSync(path, 'r');
    const sink = new CompletionSink(() => {});
    sink.write(bytes('a'));
    sink.sendFile(fd, 0, 10);
    sink.next();
    sink.inFlight = true;
    sink.dispose();
    expect(sink.retired).toBeDefined(); // the kernel may still be reading those buffers
    expect(() => fstatSync(fd)).toThrow(/EBADF/);
    sink.write(bytes('late'));
    expect(sink.pendingBytes).toBe(0);
    // An empty file segment is closed at once.
    const fd2 = openSync(path, 'r');
    new CompletionSink(() => {}).sendFile(fd2, 0, 0);
    expect(() => closeSync(fd2)).toThrow(/EBADF/);
  });
});
