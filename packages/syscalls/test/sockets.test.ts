import { afterEach, describe, expect, it } from 'vitest';
import * as sys from '../src/index.js';
import { C, SysError } from '../src/index.js';
import { closeAll, tcpPair, track, unixPair } from './util.js';

afterEach(closeAll);

describe('errno conventions', () => {
  it('a failing call returns -errno, and errnoName names it', () => {
    const r = sys.read(1_000_000, Buffer.alloc(4));
    expect(r).toBe(-C.EBADF);
    expect(sys.errnoName(r)).toBe('EBADF');
    expect(sys.errnoName(C.EBADF)).toBe('EBADF');
  });

  it('errnoName knows every errno constant in C', () => {
    const names = Object.keys(C).filter((k) => /^E[A-Z]+$/.test(k) && !k.startsWith('EPOLL') && !k.startsWith('EFD'));
    expect(names.length).toBeGreaterThan(40);
    for (const name of names) {
      const expected = name === 'EWOULDBLOCK' ? 'EAGAIN' : name; // the same number on Linux
      expect(sys.errnoName(C[name as sys.ConstantName])).toBe(expected);
    }
    expect(sys.errnoName(9999)).toBe('E9999');
  });

  it('check passes results through and throws SysError with code, errno and syscall', () => {
    expect(sys.check(5, 'read')).toBe(5);
    expect(sys.check(0, 'read')).toBe(0);
    const err = (() => {
      try {
        sys.check(-C.ECONNRESET, 'read', 'fd 7');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SysError);
    expect(err).toMatchObject({ code: 'ECONNRESET', errno: C.ECONNRESET, syscall: 'read', message: 'read fd 7: ECONNRESET' });
  });

  it('check narrows an address-or-errno result', () => {
    const { listener, port } = tcpPair();
    const addr = sys.check(sys.getsockname(listener), 'getsockname');
    expect(addr.port).toBe(port);
    expect(() => sys.check(sys.getsockname(1_000_000), 'getsockname')).toThrow('getsockname: EBADF');
  });

  it('bad argument types are programming errors: TypeError', () => {
    const buf = Buffer.alloc(8);
    expect(() => sys.read('3' as unknown as number, buf)).toThrow(TypeError);
    expect(() => sys.read(0, 'text' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => sys.read(0, new Int32Array(2) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => sys.bind(0, 127 as unknown as string, 80)).toThrow(TypeError);
    expect(() => sys.writev(0, buf as unknown as Uint8Array[])).toThrow(TypeError);
    expect(() => sys.writev(0, [buf, 'x' as unknown as Uint8Array])).toThrow(TypeError);
    expect(() => sys.epoll_wait(0, new Uint32Array(8) as unknown as Int32Array, 4, 0)).toThrow(TypeError);
    expect(() => sys.catchSignals('SIGTERM' as unknown as number[])).toThrow(TypeError);
  });

  it('offsets and lengths outside the buffer are RangeErrors', () => {
    const buf = Buffer.alloc(8);
    expect(() => sys.read(0, buf, 9, 0)).toThrow(RangeError);
    expect(() => sys.read(0, buf, 4, 5)).toThrow(RangeError);
    expect(() => sys.write(1, buf, -1, 2)).toThrow(RangeError);
    expect(() => sys.write(1, buf, 0, 9)).toThrow(RangeError);
    expect(() => sys.read(0, buf, 8, 1)).toThrow(RangeError);
    expect(() => sys.bind(0, '127.0.0.1', 70000)).toThrow(RangeError);
    expect(() => sys.epoll_wait(0, new Int32Array(7), 4, 0)).toThrow(RangeError);
    expect(() => sys.poll(new Int32Array(5), 2, 0)).toThrow(RangeError);
    expect(() => sys.writev(1, new Array<Uint8Array>(C.IOV_MAX + 1).fill(buf))).toThrow(RangeError);
  });

  it('a subarray is read into at its own offset, and offset/length select inside it', () => {
    const [a, b] = unixPair();
    expect(sys.write(a, Buffer.from('xyHELLOz'), 2, 5)).toBe(5);
    const backing = Buffer.alloc(16, '.');
    const view = backing.subarray(4, 12);
    expect(sys.read(b, view, 1, 5)).toBe(5);
    expect(backing.toString()).toBe('.....HELLO......');
  });
});

describe('socket, bind, listen, accept4, connect', () => {
  it('listenTcp binds port 0 to a real port, reported by getsockname', () => {
    const l = sys.listenTcp({ host: '127.0.0.1', port: 0 });
    track(l.fd);
    expect(l.host).toBe('127.0.0.1');
    expect(l.port).toBeGreaterThan(0);
    expect(sys.getsockname(l.fd)).toEqual({ address: '127.0.0.1', port: l.port, family: C.AF_INET });
    expect(sys.getsockopt(l.fd, C.SOL_SOCKET, C.SO_REUSEADDR)).toBe(1);
    expect(sys.getsockopt(l.fd, C.SOL_SOCKET, C.SO_ACCEPTCONN)).toBe(1);
    expect(sys.fcntl(l.fd, C.F_GETFD, 0) & C.FD_CLOEXEC).toBe(C.FD_CLOEXEC);
  });

  it('binding a port twice throws SysError EADDRINUSE naming the address', () => {
    const l = sys.listenTcp({ host: '127.0.0.1', port: 0 });
    track(l.fd);
    let err: unknown;
    try {
      sys.listenTcp({ host: '127.0.0.1', port: l.port });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SysError);
    expect(err).toMatchObject({ code: 'EADDRINUSE', errno: C.EADDRINUSE, syscall: 'bind', message: `bind 127.0.0.1:${l.port}: EADDRINUSE` });
  });

  it('an IPv6 address is bracketed in the message', () => {
    const l = sys.listenTcp({ host: '::1', port: 0 });
    track(l.fd);
    expect(sys.formatHostPort(l.host, l.port)).toBe(`[::1]:${l.port}`);
    expect(() => sys.listenTcp({ host: '::1', port: l.port })).toThrow(`bind [::1]:${l.port}: EADDRINUSE`);
  });

  it('raw bind twice returns -EADDRINUSE', () => {
    const a = track(sys.socket(C.AF_INET, C.SOCK_STREAM, 0));
    const b = track(sys.socket(C.AF_INET, C.SOCK_STREAM, 0));
    expect(sys.bind(a, '127.0.0.1', 0)).toBe(0);
    expect(sys.listen(a, 4)).toBe(0);
    const port = (sys.getsockname(a) as sys.SockAddr).port;
    expect(sys.bind(b, '127.0.0.1', port)).toBe(-C.EADDRINUSE);
  });

  it('SO_REUSEPORT lets two listeners share a port', () => {
    const a = sys.listenTcp({ host: '127.0.0.1', port: 0, reusePort: true });
    track(a.fd);
    const b = sys.listenTcp({ host: '127.0.0.1', port: a.port, reusePort: true });
    track(b.fd);
    expect(b.port).toBe(a.port);
    expect(sys.getsockopt(b.fd, C.SOL_SOCKET, C.SO_REUSEPORT)).toBe(1);
  });

  it('bind rejects a host that is not an IP literal with -EINVAL; listenTcp says which', () => {
    const fd = track(sys.socket(C.AF_INET, C.SOCK_STREAM, 0));
    expect(sys.bind(fd, 'localhost', 0)).toBe(-C.EINVAL);
    expect(() => sys.listenTcp({ host: 'not-an-ip', port: 8080 })).toThrow('bind not-an-ip:8080: EINVAL');
  });

  it('non-blocking accept4 with nothing pending returns -EAGAIN', () => {
    const l = sys.listenTcp({ host: '127.0.0.1', port: 0, nonBlocking: true });
    track(l.fd);
    expect(sys.accept4(l.fd, C.SOCK_NONBLOCK)).toBe(-C.EAGAIN);
    expect(sys.accept4(l.fd, C.SOCK_NONBLOCK)).toBe(-C.EWOULDBLOCK);
  });

  it('accept4 applies SOCK_NONBLOCK to the new connection', () => {
    const l = sys.listenTcp({ host: '127.0.0.1', port: 0 });
    track(l.fd);
    const c = track(sys.socket(C.AF_INET, C.SOCK_STREAM, 0));
    expect(sys.connect(c, '127.0.0.1', l.port)).toBe(0);
    const s = track(sys.accept4(l.fd, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC));
    expect(sys.fcntl(s, C.F_GETFL, 0) & C.O_NONBLOCK).toBe(C.O_NONBLOCK);
    expect(sys.read(s, Buffer.alloc(4))).toBe(-C.EAGAIN);
  });

  it('connect to a closed port gives -ECONNREFUSED; non-blocking connect gives -EINPROGRESS', () => {
    const l = sys.listenTcp({ host: '127.0.0.1', port: 0 });
    sys.close(l.fd); // the port is now free and nobody listens
    const c = track(sys.socket(C.AF_INET, C.SOCK_STREAM, 0));
    expect(sys.connect(c, '127.0.0.1', l.port)).toBe(-C.ECONNREFUSED);

    const l2 = sys.listenTcp({ host: '127.0.0.1', port: 0 });
    track(l2.fd);
    const nb = track(sys.socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_NONBLOCK, 0));
    const r = sys.connect(nb, '127.0.0.1', l2.port);
    expect([0, -C.EINPROGRESS]).toContain(r); // loopback may finish at once
    const fds = new Int32Array([nb, C.POLLOUT, 0]);
    expect(sys.poll(fds, 1, 10_000)).toBe(1);
    expect(sys.getsockopt(nb, C.SOL_SOCKET, C.SO_ERROR)).toBe(0);
  });

  it('listen and accept4 on a bad fd return -EBADF; on a non-socket -ENOTSOCK', () => {
    expect(sys.listen(1_000_000, 1)).toBe(-C.EBADF);
    expect(sys.accept4(1_000_000, 0)).toBe(-C.EBADF);
    const efd = track(sys.eventfd(0, C.EFD_CLOEXEC));
    expect(sys.accept4(efd, 0)).toBe(-C.ENOTSOCK);
    expect(sys.socket(9999, C.SOCK_STREAM, 0)).toBe(-C.EAFNOSUPPORT);
  });

  it('setsockopt/getsockopt round-trip TCP_NODELAY; an unknown option is -ENOPROTOOPT', () => {
    const { server } = tcpPair();
    expect(sys.getsockopt(server, C.IPPROTO_TCP, C.TCP_NODELAY)).toBe(0);
    expect(sys.setsockopt(server, C.IPPROTO_TCP, C.TCP_NODELAY, 1)).toBe(0);
    expect(sys.getsockopt(server, C.IPPROTO_TCP, C.TCP_NODELAY)).toBe(1);
    expect(sys.getsockopt(server, C.SOL_SOCKET, 9999)).toBe(-C.ENOPROTOOPT);
    expect(sys.setsockopt(1_000_000, C.SOL_SOCKET, C.SO_REUSEADDR, 1)).toBe(-C.EBADF);
  });
});

describe('getsockname / getpeername', () => {
  it('IPv4: both ends agree on the addresses', () => {
    const { client, server, port } = tcpPair('127.0.0.1');
    const local = sys.getsockname(client) as sys.SockAddr;
    expect(sys.getpeername(client)).toEqual({ address: '127.0.0.1', port, family: C.AF_INET });
    expect(sys.getpeername(server)).toEqual(local);
    expect(sys.getsockname(server)).toEqual({ address: '127.0.0.1', port, family: C.AF_INET });
  });

  it('IPv6 (::1)', () => {
    const { client, server, port } = tcpPair('::1');
    expect(sys.getsockname(server)).toEqual({ address: '::1', port, family: C.AF_INET6 });
    expect(sys.getpeername(server)).toEqual(sys.getsockname(client));
    const l = sys.listenTcp({ host: '::', port: 0 });
    track(l.fd);
    expect(l.host).toBe('::');
  });

  it('AF_UNIX socketpair ends are unnamed', () => {
    const [a] = unixPair();
    expect(sys.getsockname(a)).toEqual({ address: '', port: 0, family: C.AF_UNIX });
  });

  it('getpeername of an unconnected socket is -ENOTCONN; a bad fd -EBADF', () => {
    const fd = track(sys.socket(C.AF_INET, C.SOCK_STREAM, 0));
    expect(sys.getpeername(fd)).toBe(-C.ENOTCONN);
    expect(sys.getsockname(1_000_000)).toBe(-C.EBADF);
  });
});

describe('shutdown and close', () => {
  it('SHUT_WR gives the peer EOF while it can still send back', () => {
    const { client, server } = tcpPair();
    expect(sys.shutdown(client, C.SHUT_WR)).toBe(0);
    const buf = Buffer.alloc(8);
    expect(sys.read(server, buf)).toBe(0);
    expect(sys.write(server, Buffer.from('bye'))).toBe(3);
    expect(sys.read(client, buf)).toBe(3);
    expect(sys.write(client, Buffer.from('x'))).toBe(-C.EPIPE); // Node ignores SIGPIPE
    expect(sys.shutdown(1_000_000, C.SHUT_RDWR)).toBe(-C.EBADF);
  });

  it('closing twice gives -EBADF the second time', () => {
    const fd = sys.socket(C.AF_INET, C.SOCK_STREAM, 0);
    expect(sys.close(fd)).toBe(0);
    expect(sys.close(fd)).toBe(-C.EBADF);
  });
});
