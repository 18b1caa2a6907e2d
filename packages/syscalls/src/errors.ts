/**
 * Turning `-errno` into an exception, for the calls where failure is unexpected (start-up,
 * configuration). Hot paths compare the number instead: throwing costs ~12× the syscall.
 */
import { errnoName } from './raw.js';

// #region sys-error
/**
 * A failed syscall. `code` is the errno name (`'EADDRINUSE'`), `errno` the positive number,
 * `syscall` the call's name. The message reads `bind 127.0.0.1:8080: EADDRINUSE`: callers print it
 * as it is, with no stack trace, when the failure is the user's to fix.
 */
export class SysError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(errno: number, syscall: string, detail?: string) {
    const code = errnoName(errno);
    super(`${syscall}${detail ? ' ' + detail : ''}: ${code}`);
    this.name = 'SysError';
    this.code = code;
    this.errno = Math.abs(errno);
    this.syscall = syscall;
  }
}
// #endregion sys-error

// #region check
/**
 * `ret` unchanged if the call succeeded; throws `SysError` if it is `-errno`.
 * `detail` (an address, a path) goes into the message after the call's name.
 */
export function check(ret: number, syscall: string, detail?: string): number;
export function check<T extends object>(ret: T | number, syscall: string, detail?: string): T;
export function check<T>(ret: T | number, syscall: string, detail?: string): T | number {
  if (typeof ret === 'number' && ret < 0) throw new SysError(-ret, syscall, detail);
  return ret;
}
// #endregion check
