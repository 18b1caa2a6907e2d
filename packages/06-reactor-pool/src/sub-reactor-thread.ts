/**
 * Entry point of one SubReactor thread (started by main-reactor.ts).
 *
 * Loads the app, builds the SubReactor, runs onStart, tells the main thread it is ready, and then
 * blocks in its epoll loop until shutdown. From the moment `run()` starts, this thread's Node
 * event loop does not turn again — except while a reload imports the app afresh, between two
 * turns: everything reaches it through its eventfd. When `run()` returns
 * it has closed everything it opened, and the thread ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadApp } from './app.js';
import { SubReactor, type SubReactorData } from './sub-reactor.js';

const data = workerData as SubReactorData;
const app = await loadApp(data.settings.app);
const sub = new SubReactor(data, app, (report) => parentPort!.postMessage(report));
await app.onStart?.(sub.threadServer);

// postMessage enqueues at once; the main thread (awaiting this, in its event loop) receives it
// even though this thread is about to block for good.
parentPort!.postMessage('ready');
await sub.run(); // synchronous turn after turn; it awaits only to re-import the app on a reload
