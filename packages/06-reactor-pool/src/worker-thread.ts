/**
 * Entry point of one WorkerPool thread (started by worker-pool.ts).
 *
 * An ordinary Node event-loop thread with one MessagePort per SubReactor (its `links`). Tasks
 * arrive on them; the thread runs them one at a time, in arrival order, with the app's `onTask`,
 * posts each outcome back on the link it came from, and then wakes THAT SubReactor (its eventfd,
 * unless a wake-up is already pending), so that its epoll_wait returns and it reads the reply. The main thread is not involved.
 *
 * If `onTask` throws (or rejects), the task fails and the thread lives on. If the thread itself
 * dies — process.exit() here, an error thrown outside a task — the supervisor on the main thread
 * tells every SubReactor, and each fails the tasks it had posted here. After `maxRequests` tasks
 * the thread asks to be retired: once the supervisor has started its successor and every
 * SubReactor has ended its link here (`LINK_END`), it finishes what it holds and leaves.
 *
 * Ownership: everything in this module belongs to this thread.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { LocalServer, errorText, loadApp } from './app.js';
import { LINK_END, WakeFlags, type TaskReply, type TaskRequest, type ToPoolThread } from './handoff.js';
import { pushTargets, type PushEnvelope } from './push.js';
import { StatsBoard } from './stats.js';
import type { PoolThreadData } from './worker-pool.js';

const data = workerData as PoolThreadData;
const app = await loadApp(data.app); // settings.app, or after a reload the same with ?reload=N
const board = new StatsBoard(data.statsBuffer);
const wakeFlags = new WakeFlags(data.wakeFlagsBuffer);
// A push from onTask goes on the link to each target SubReactor — the same port as results, so
// it arrives before the task's own reply, in the order the task made them — and wakes it.
const server = new LocalServer('worker', data.index, board, undefined, (push) => {
  const envelope: PushEnvelope = { push };
  for (const r of pushTargets(push, data.links.length)) {
    data.links[r]!.postMessage(envelope);
    wakeFlags.wake(r, data.wakeFds[r]!);
  }
});
await app.onStart?.(server);

/** Tasks received and not run yet, with the SubReactor each came from. */
const queue: Array<{ reactor: number; task: TaskRequest }> = [];
let running = false;
let tasksDone = 0;
let linksOpen = data.links.length;

data.links.forEach((port: MessagePort, reactor: number) => {
  port.on('message', (msg: ToPoolThread) => {
    if (msg === LINK_END) {
      port.close();
      linksOpen--;
      leaveIfDone();
      return;
    }
    queue.push({ reactor, task: msg });
    if (!running) void runQueued();
  });
});
parentPort!.postMessage('ready');

// #region pool-thread-run
async function runQueued(): Promise<void> {
  running = true;
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const { reactor, task } = next;
    board.started(data.index, data.gen);
    let reply: TaskReply;
    try {
      if (app.onTask === undefined) throw new Error('the app has no onTask hook');
      reply = { id: task.id, ok: true, value: await app.onTask(task.payload, server) };
    } catch (err) {
      reply = { id: task.id, ok: false, error: errorText(err) };
    }
    board.finished(data.index, data.gen, reply.ok);
    const link = data.links[reactor]!;
    try {
      link.postMessage(reply);
    } catch (err) {
      // The result cannot be cloned (a function, a class with private state...): fail the task instead.
      link.postMessage({ id: task.id, ok: false, error: `task result cannot be sent between threads: ${errorText(err)}` } satisfies TaskReply);
    }
    wakeFlags.wake(reactor, data.wakeFds[reactor]!); // after postMessage: the SubReactor reads the port once woken
    if (++tasksDone === data.settings.maxRequests) parentPort!.postMessage('retire');
  }
  running = false;
  leaveIfDone();
}
// #endregion pool-thread-run

/** Retired, every link ended and nothing left to run: end the thread (the supervisor expects it). */
function leaveIfDone(): void {
  if (linksOpen === 0 && !running && queue.length === 0) process.exit(0);
}
