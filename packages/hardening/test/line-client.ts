/**
 * A raw TCP client for the framed suites (framed-echo, one-port): it collects what it receives
 * and notices the server closing. Test-only; one per connection, on the test's thread.
 */
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { expect } from 'vitest';
import { openSocket, until, type RunningServer } from '@course/testkit';

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

/**
 * A line over the codec's maximum (64) closes that connection only: a bystander connected before
 * it (after it on a model that serves one connection at a time) still gets its echo, and the
 * reason is on stderr.
 */
export async function overlongLineClosesOnlyItsConnection(server: RunningServer, concurrent: boolean): Promise<void> {
  const bystander = concurrent ? await Client.open(server.port) : null;
  if (bystander) {
    await bystander.send('before\n');
    await bystander.expectReceived('before\n');
  }
  const offender = await Client.open(server.port);
  await offender.send('fine\n' + 'x'.repeat(100));
  await offender.expectReceived('fine\n');
  await offender.expectClosed();
  await until(() => server.stderr().includes('exceed max frame 64'), 20_000, 'the reason on stderr');
  expect(server.stderr()).toMatch(/closing 127\.0\.0\.1:\d+: 100 bytes without a delimiter exceed max frame 64 \(codec line:max=64\)/);

  const next = bystander ?? (await Client.open(server.port));
  await next.send('after\n');
  await next.expectReceived('after\n');
  expect(next.closed).toBe(false);
  next.end();
}
