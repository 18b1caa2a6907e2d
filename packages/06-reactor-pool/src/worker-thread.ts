/**
 * Entry point of one WorkerPool thread (started by worker-pool.ts).
 *
 * An ordinary Node event-loop thread: tasks arrive as messages on `port`; each is handed to the
 * app's `onTask`, and its outcome is posted back on the same port, after which the main thread's
 * eventfd is written so that its epoll_wait wakes up and reads the result. The dispatcher sends
 * one task at a time, so this thread never has two tasks in hand.
 *
 * If `onTask` throws (or rejects), the task fails and the thread lives on. If the thread itself
 * dies — process.exit() here, an error thrown outside a task — the dispatcher fails the task it
 * was running and starts a replacement.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { LocalServer, errorText, loadApp } from './app.js';
import type { PushEnvelope } from './push.js';
import { StatsBoard } from './stats.js';
import type { PoolWorkerData, ResultMessage, TaskMessage } from './worker-pool.js';

const data = workerData as PoolWorkerData;
const app = await loadApp(data.appUrl);
// A push from a task goes on the same port as results, so the dispatcher relays it before the
// task's own result (the order the task made them in), and wakes the main thread like a result.
const server = new LocalServer('worker', data.index, new StatsBoard(data.statsBuffer), undefined, (push) => {
  data.port.postMessage({ push } satisfies PushEnvelope);
  sys.eventfdSignal(data.wakeFd);
});
await app.onStart?.(server);

data.port.on('message', (msg: TaskMessage) => void runTask(msg));
parentPort!.postMessage('ready');

async function runTask(msg: TaskMessage): Promise<void> {
  let reply: ResultMessage;
  try {
    if (app.onTask === undefined) throw new Error('the app has no onTask hook');
    reply = { seq: msg.seq, ok: true, value: await app.onTask(msg.payload, server) };
  } catch (err) {
    reply = { seq: msg.seq, ok: false, error: errorText(err) };
  }
  try {
    data.port.postMessage(reply);
  } catch (err) {
    // The result cannot be cloned (a function, a class with private state...): fail the task instead.
    data.port.postMessage({ seq: msg.seq, ok: false, error: `task result cannot be sent between threads: ${errorText(err)}` } satisfies ResultMessage);
  }
  sys.eventfdSignal(data.wakeFd); // after postMessage: the main thread reads the port once woken
}
