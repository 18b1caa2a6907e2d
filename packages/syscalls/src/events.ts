/**
 * Named accessors over the flat Int32Arrays that `poll` and `epoll_wait` fill. Optional sugar:
 * the raw arrays work as well. Each instance belongs to one thread (the one that waits with it).
 */
import { C } from './constants.js';
import * as raw from './raw.js';

/** A pollfd array: (fd, events, revents) triplets, grown as fds are added. */
export class PollSet {
  private fds: Int32Array;
  private count = 0;

  constructor(capacity = 16) {
    this.fds = new Int32Array(capacity * 3);
  }

  /** How many fds are in the set. */
  get size(): number {
    return this.count;
  }

  /** Add `fd` watching `events` (`C.POLLIN`...); returns its index. */
  add(fd: number, events: number): number {
    if (this.count * 3 === this.fds.length) {
      const bigger = new Int32Array(this.fds.length * 2);
      bigger.set(this.fds);
      this.fds = bigger;
    }
    const i = this.count++;
    this.fds[3 * i] = fd;
    this.fds[3 * i + 1] = events;
    this.fds[3 * i + 2] = 0;
    return i;
  }

  /** Remove the entry at `index` by moving the last one into its place (indices change!). */
  removeAt(index: number): void {
    const last = --this.count;
    this.fds.copyWithin(3 * index, 3 * last, 3 * last + 3);
  }

  /** Remove every entry. */
  clear(): void {
    this.count = 0;
  }

  fd(index: number): number {
    return this.fds[3 * index]!;
  }

  events(index: number): number {
    return this.fds[3 * index + 1]!;
  }

  setEvents(index: number, events: number): void {
    this.fds[3 * index + 1] = events;
  }

  /** What poll reported for the entry after the last `wait`. */
  revents(index: number): number {
    return this.fds[3 * index + 2]!;
  }

  /** poll(2) over the set: ready count, 0 on timeout, or -errno (e.g. -EINTR). */
  wait(timeoutMs: number): number {
    return raw.poll(this.fds, this.count, timeoutMs);
  }
}

/** The caller-owned (events, fd) pair array `epoll_wait` writes into. Allocated once, reused. */
export class EpollEvents {
  readonly buffer: Int32Array;
  readonly capacity: number;

  constructor(capacity = 256) {
    this.capacity = capacity;
    this.buffer = new Int32Array(capacity * 2);
  }

  /** epoll_wait(2) into this array: ready count, 0 on timeout, or -errno (e.g. -EINTR). */
  wait(epfd: number, timeoutMs: number): number {
    return raw.epoll_wait(epfd, this.buffer, this.capacity, timeoutMs);
  }

  /** The fd of ready event `i` (0 <= i < the count `wait` returned). */
  fd(i: number): number {
    return this.buffer[2 * i + 1]!;
  }

  /** The event bits of ready event `i`; test with `&` (`C.EPOLLET` bits are negative). */
  events(i: number): number {
    return this.buffer[2 * i]!;
  }

  /** Readable, or the peer hung up / errored (a read will tell which). */
  readable(i: number): boolean {
    return (this.buffer[2 * i]! & (C.EPOLLIN | C.EPOLLHUP | C.EPOLLERR | C.EPOLLRDHUP)) !== 0;
  }

  /** Writable, or errored (a write will tell). */
  writable(i: number): boolean {
    return (this.buffer[2 * i]! & (C.EPOLLOUT | C.EPOLLERR)) !== 0;
  }
}
