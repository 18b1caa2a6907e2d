/**
 * Closing the files a session hands over with `Sink.sendFile`. Any thread; the sink owning the
 * file calls it once, when the file is sent or the connection ends.
 */
import { closeSync } from 'node:fs';

/**
 * The protocol opened the file with Node's `fs.openSync`, and Node remembers the fds a Worker
 * thread opens that way so it can close them when the thread exits. A raw close(2) would leave
 * that record behind, and the thread's exit would close the same number again — by then reused
 * by somebody else's socket or pipe (seen: a Worker's event loop losing its pipe, and Node
 * aborting). `fs.closeSync` keeps Node's books straight.
 */
export function closeFile(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF: already closed; nothing else can fail here.
  }
}
