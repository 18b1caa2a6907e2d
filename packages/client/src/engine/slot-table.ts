/**
 * An engine's connections by fd, and the fds to close(2) at the end of its turn. Closing waits
 * for the turn's end because a later event of the same epoll_wait batch may still name a closed
 * fd, and must not reach a new socket that reused the number (step 05's Reactor does the same).
 * Owned by one engine, on its thread.
 */
import * as sys from '@course/syscalls';

export class SlotTable<S extends { fd: number }> {
  private readonly byFd: Array<S | undefined> = [];
  private readonly closing: number[] = [];

  /** The slot whose connection is `fd`, if any. */
  get(fd: number): S | undefined {
    return this.byFd[fd];
  }

  /** `s` opened `fd` (already in `s.fd`). */
  add(s: S): void {
    this.byFd[s.fd] = s;
  }

  /** Forget `s`'s connection now (its events are ignored) and close its fd at `flush`; `s.fd` becomes -1. */
  forget(s: S): void {
    this.byFd[s.fd] = undefined;
    this.closing.push(s.fd);
    s.fd = -1;
  }

  /** End of the turn: close every fd forgotten since the last call. */
  flush(): void {
    for (let i = 0; i < this.closing.length; i++) sys.close(this.closing[i]!);
    this.closing.length = 0;
  }
}
