/**
 * A raw TCP client for the framed suites (framed-echo, one-port): it collects what it receives
 * and notices the server closing. Test-only; one per connection, on the test's thread.
 */
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { expect } from 'vitest';
import { openSocket, until } from '@course/testkit';

/** One client connection that collects what it receives and notices the server closing. */
export class Client {
  private received = Buffer.alloc(0);
  closed = false;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => { this.received = Buffer.concat([this.received, d]); });
    sock.on('close', () => { this.closed = true; });
    sock.on('error', () => { /* a reset is a close too; the test looks at `closed` */ });
  }

  static async open(port: number): Promise<Client> {
    return new Client(await openSocket(port));
  }

  /** Write each piece separately, letting each leave before the next (a cut the server must not notice). */
  async send(...pieces: Array<string | Buffer>): Promise<void> {
    for (const piece of pieces) {
      await new Promise<void>((resolve, reject) => this.sock.write(piece, (err) => (err ? reject(err) : resolve())));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolve with what was received once it is `expected`; fail if it is anything else. */
  async expectReceived(expected: string | Buffer): Promise<void> {
    const want = typeof expected === 'string' ? Buffer.from(expected) : expected;
    await until(() => this.received.length >= want.length || this.closed, 20_000, `${want.length} bytes echoed`);
    expect(this.received.subarray(0, want.length).toString('latin1')).toBe(want.toString('latin1'));
    this.received = this.received.subarray(want.length);
  }

  async expectClosed(): Promise<void> {
    await until(() => this.closed, 20_000, 'the server closing the connection');
    expect(this.received.length, 'nothing sent after the frames before the bad one').toBe(0);
  }

  end(): void {
    this.sock.destroy();
  }
}
