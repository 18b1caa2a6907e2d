import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../src/options.js';
import { MODELS } from '../src/plan.js';
import { SCENARIOS } from '../src/types.js';

const defaults = { out: '/tmp/out.json', root: '/site' };
const parse = (...argv: string[]) => parseOptions(argv, defaults);

describe('parseOptions', () => {
  it('defaults to every model and scenario for 5 seconds', () => {
    const o = parse();
    expect(o).toMatchObject({ durationS: 5, connections: null, out: '/tmp/out.json', root: '/site', help: false });
    expect(o.models).toEqual([...MODELS]);
    expect(o.scenarios).toEqual([...SCENARIOS]);
  });

  it('reads each flag, with a space or an equals sign', () => {
    const o = parse('--duration', '1.5', '--connections=20', '--models', 'node-http,05-epoll-native', '--scenario=churn,keepalive', '--out', 'x.json', '--root', '/r');
    expect(o).toMatchObject({ durationS: 1.5, connections: 20, out: 'x.json', root: '/r' });
    expect(o.models).toEqual(['node-http', '05-epoll-native']);
    expect(o.scenarios).toEqual(['keepalive', 'churn']); // run order, not typed order
  });

  it('accepts a model by its step number and skips the -- pnpm passes through', () => {
    expect(parse('--', '--models', '06,01').models).toEqual(['01-blocking', '06-reactor-pool']);
  });

  it('takes "all" scenarios and --help', () => {
    expect(parse('--scenario', 'all').scenarios).toEqual([...SCENARIOS]);
    expect(parse('--help').help).toBe(true);
  });

  it('defaults to the autocannon engine and takes wrk', () => {
    expect(parse().engine).toBe('autocannon');
    expect(parse('--engine', 'wrk').engine).toBe('wrk');
  });

  it.each([
    [['--bogus', '1'], /unknown flag --bogus/],
    [['--duration'], /--duration needs a value/],
    [['--duration', 'five'], /--duration expects seconds/],
    [['--duration', '0.1'], /--duration expects seconds/],
    [['--connections', '0'], /--connections expects an integer/],
    [['--connections', '2.5'], /--connections expects an integer/],
    [['--models', '08-io-uring'], /unknown model "08-io-uring"/],
    [['--models', ','], /at least one model/],
    [['--scenario', 'idle-100k'], /unknown scenario "idle-100k"/],
    [['--engine', 'ab'], /--engine: unknown engine "ab" \(known: autocannon, wrk, reactor\)/],
    [['stray'], /unexpected argument "stray"/],
  ])('rejects %j with a message naming the problem', (argv, message) => {
    expect(() => parse(...argv)).toThrow(UsageError);
    expect(() => parse(...argv)).toThrow(message);
  });
});
