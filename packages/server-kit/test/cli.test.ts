import { describe, expect, it } from 'vitest';
import { parseArgs, parseFlags, UsageError, usage } from '../src/cli.js';

const MODEL = {
  mode: { kind: 'enum', default: 'lt', values: ['lt', 'et'], help: 'trigger mode' },
  workers: { kind: 'int', default: 2, min: 1, max: 64, help: 'worker count' },
} as const;

describe('parseArgs', () => {
  it('fills in the contract defaults', () => {
    const o = parseArgs([], MODEL);
    expect(o).toMatchObject({ host: '127.0.0.1', port: 8080, protocol: 'http', mode: 'lt', workers: 2, help: false });
    expect(o.root).toMatch(/site$/);
  });

  it('reads common and model flags, in both spellings', () => {
    const o = parseArgs(['--port', '0', '--host=::1', '--protocol', 'echo', '--mode=et', '--workers', '8', '--root', '/tmp'], MODEL);
    expect(o).toMatchObject({ port: 0, host: '::1', protocol: 'echo', mode: 'et', workers: 8, root: '/tmp' });
  });

  it('accepts localhost and bracketed IPv6', () => {
    expect(parseArgs(['--host', 'localhost'], MODEL).host).toBe('127.0.0.1');
    expect(parseArgs(['--host', '[::1]'], MODEL).host).toBe('::1');
  });

  it.each([
    [['--nope'], /unknown flag --nope/],
    [['--port', '70000'], /--port expects an integer from 0 to 65535, got "70000"/],
    [['--port', '1.5'], /--port expects an integer/],
    [['--workers', '0'], /--workers expects an integer from 1 to 64/],
    [['--mode', 'edge'], /--mode expects one of lt\|et, got "edge"/],
    [['--host', 'example.com'], /--host expects an IPv4 or IPv6 address/],
    [['--root', '/definitely/not/here'], /--root: "\/definitely\/not\/here" is not a directory/],
    [['--port'], /--port needs a value/],
    [['stray'], /unexpected argument "stray"/],
  ])('rejects %j with a message naming the flag', (argv, message) => {
    expect(() => parseArgs(argv, MODEL)).toThrow(UsageError);
    expect(() => parseArgs(argv, MODEL)).toThrow(message);
  });

  it('takes a --codec spec with --protocol echo, and none by default', () => {
    expect(parseArgs([], MODEL).codec).toBe('none');
    expect(parseArgs(['--protocol', 'echo', '--codec', 'line'], MODEL).codec).toBe('line');
    expect(parseArgs(['--protocol', 'echo', '--codec=length:size=2,endian=le,max=4096'], MODEL).codec).toBe('length:size=2,endian=le,max=4096');
  });

  it.each([
    [['--protocol', 'echo', '--codec', 'lines'], /^--codec: unknown codec "lines"/],
    [['--protocol', 'echo', '--codec', 'fixed:0'], /^--codec: fixed:N expects N from 1/],
    [['--protocol', 'echo', '--codec', 'length:size=3'], /^--codec: length: size must be 1, 2, 4 or 8, got 3$/],
    [['--protocol', 'echo', '--codec', 'length:endian=middle'], /^--codec: length: endian must be be or le/],
    [['--protocol', 'echo', '--codec', 'length:offset=2,size=4,max=4'], /^--codec: length: max 4 is smaller than the header/],
    [['--protocol', 'echo', '--codec', 'delimiter:'], /^--codec: delimiter needs its bytes/],
    [['--protocol', 'echo', '--codec', 'line:max=x'], /^--codec: max expects an integer/],
    [['--codec', 'line'], /^--codec frames TCP: it needs --protocol echo/],
  ])('rejects the codec %j in one line naming --codec', (argv, message) => {
    expect(() => parseArgs(argv, MODEL)).toThrow(UsageError);
    expect(() => parseArgs(argv, MODEL)).toThrow(message);
  });

  it('lists every flag in the usage text', () => {
    const text = usage('demo', MODEL);
    for (const flag of ['--port', '--host', '--root', '--protocol', '--codec', '--mode', '--workers']) expect(text).toContain(flag);
    for (const knob of ['offset=', 'size=', 'endian=', 'adjust=', 'strip=', 'max=']) expect(text).toContain(knob);
  });
});

describe('parseFlags (programs that are not servers)', () => {
  it('reads only the flags it is given: no common flags, no --root check', () => {
    expect(parseFlags(['--workers', '3'], MODEL)).toEqual({ help: false, mode: 'lt', workers: 3 });
    expect(() => parseFlags(['--root', '/tmp'], MODEL)).toThrow(new UsageError('unknown flag --root'));
    expect(() => parseFlags(['--workers', '0'], MODEL)).toThrow('--workers expects an integer from 1 to 64, got "0"');
    expect(usage('x', MODEL, false)).not.toContain('--port');
  });
});
