/**
 * fds to close(2) at the end of an engine's turn, not at once: a later event of the same
 * epoll_wait batch may still name a closed fd, and must not reach a new socket that reused the
 * number (step 05's Reactor does the same). Owned by one engine, on its thread.
 */
import * as sys from '@course/syscalls';

export class DeferredClose {
  private readonly fds: number[] = [];

  /** Close `fd` at the next `flush`. */
  later(fd: number): void {
    this.fds.push(fd);
  }

  /** End of the turn: close every fd handed in since the last call. */
  flush(): void {
    for (let i = 0; i < this.fds.length; i++) sys.close(this.fds[i]!);
    this.fds.length = 0;
  }
}
