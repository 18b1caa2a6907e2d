/**
 * @course/syscalls: Linux syscalls one to one for Node (README.md has the conventions).
 *
 *   import * as sys from '@course/syscalls';
 *   const { fd } = sys.listenTcp({ host: '127.0.0.1', port: 8080 });
 *   const conn = sys.accept4(fd, sys.C.SOCK_CLOEXEC);   // blocks; -errno on failure
 *
 * Raw calls are exported by name and, all together, as `raw`.
 */
export * from './raw.js';
export * as raw from './raw.js';
export { C, type ConstantName } from './constants.js';
export { SysError, check } from './errors.js';
export {
  listenTcp,
  setNonBlocking,
  writevAll,
  sendfileAll,
  eventfdSignal,
  eventfdDrain,
  exitStatus,
  formatHostPort,
  type ListenTcpOptions,
  type TcpListener,
  type ExitStatus,
} from './helpers.js';
