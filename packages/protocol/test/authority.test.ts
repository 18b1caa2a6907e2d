/**
 * The authority of a request (the host of an absolute-form target, a CONNECT target, the Host
 * field) against RFC 3986's grammar: IP-literals (IPv6 and IPvFuture), reg-names with
 * pct-encoding, ports. Judged through the parser, as a client's request meets it, and checked
 * against an independent implementation: the WHATWG URL parser in Node, for IPv6 addresses.
 */
import { describe, expect, test } from 'vitest';
import { isValidHost, splitTarget } from '../src/http/parse-fields.js';
import { RequestParser, isParseError } from '../src/http/parser.js';

/** The parser's verdict on one request: the path it serves, or the status it answers. */
function verdict(request: string): string | number {
  const parser = new RequestParser();
  parser.push(Buffer.from(request, 'latin1'));
  const r = parser.next();
  if (r === null) throw new Error('incomplete request');
  return isParseError(r) ? r.status : r.path;
}

const VALID_IPV6 = [
  '::1',
  '::',
  '1::',
  '2001:db8::1',
  '2001:DB8:0:0:8:800:200C:417A',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7::',
  '::2:3:4:5:6:7:8',
  'fe80::1:2',
  '::ffff:1.2.3.4',
  '::ffff:255.255.255.255',
  '1:2:3:4:5:6:1.2.3.4',
  '64:ff9b::192.0.2.33',
];

const INVALID_IPV6 = [
  '1::2::3', // two "::"
  '::1::',
  '1:::2', // ":::"
  '1:2:3:4:5:6:7:8:9', // nine groups
  '1:2:3:4:5:6:7:8::', // eight groups and "::"
  '1:2:3:4:5:6:7', // seven groups, no "::"
  '12345::1', // a group of five digits
  '::g', // not hex
  '2001:db8::1x',
  ':1:2:3:4:5:6:7', // a lone ":" at either end
  '1:2:3:4:5:6:7:',
  '::1.2.3', // a short IPv4 address
  '::1.2.3.256', // an octet over 255
  '::1.2.03.4', // a leading zero
  '::1.2.3.4:5', // IPv4 not last
  '1.2.3.4::', // IPv4 first
  '1:2:3:4:5:6:7:1.2.3.4', // seven groups and an IPv4 address: nine
  '1.2.3.4', // IPv4 alone in brackets
  'fe80::1%25eth0', // a zone identifier (RFC 6874, not RFC 3986)
  '', // empty
];

describe('IP-literals', () => {
  test.each(VALID_IPV6)('[%s] is a host, in a target and in Host', (ip) => {
    expect(verdict(`GET http://[${ip}]:8080/x HTTP/1.1\r\nHost: [${ip}]:8080\r\n\r\n`)).toBe('/x');
    expect(isValidHost(`[${ip}]`)).toBe(true);
  });

  test.each(INVALID_IPV6)('[%s] is not: 400', (ip) => {
    expect(verdict(`GET http://[${ip}]/x HTTP/1.1\r\nHost: h\r\n\r\n`)).toBe(400);
    expect(verdict(`GET /x HTTP/1.1\r\nHost: [${ip}]\r\n\r\n`)).toBe(400);
    expect(splitTarget('CONNECT', `[${ip}]:443`)).toBeNull();
  });

  test('IPvFuture: "v", hex digits, ".", then unreserved, sub-delims or ":"', () => {
    for (const ok of ['v1.x', 'V1A.a:b', 'vF.!$&()*+,;=-._~']) expect(isValidHost(`[${ok}]`)).toBe(true);
    for (const bad of ['v.x', 'v1.', 'v1x', 'vg.x', 'v1.x/y', 'v1.x%41']) expect(isValidHost(`[${bad}]`)).toBe(false);
  });

  test('brackets: unclosed, unbracketed, or followed by anything but a port', () => {
    for (const bad of ['[::1', '::1', '2001:db8::1', '[::1]x', '[::1]:8x', '[::1]]', '[[::1]]']) {
      expect(isValidHost(bad)).toBe(false);
    }
    expect(splitTarget('GET', 'http://::1/x')).toBeNull();
  });

  test('agrees with the WHATWG URL parser on every IPv6 form above', () => {
    // Node's URL is an independent implementation of the same IPv6 text grammar (it knows no
    // IPvFuture, which is why those are not in these lists).
    for (const ip of [...VALID_IPV6, ...INVALID_IPV6]) {
      expect([ip, isValidHost(`[${ip}]`)]).toEqual([ip, URL.canParse(`http://[${ip}]/`)]);
    }
  });
});

describe('reg-names and ports', () => {
  test('unreserved, sub-delims and pct-encoded characters; IPv4 addresses; ports', () => {
    for (const ok of ['example.com', 'a-b_c~d.e', "!$&'()*+,;=", 'caf%C3%A9.example', '127.0.0.1', 'h:80', 'h:', 'h:065535', '']) {
      expect([ok, isValidHost(ok)]).toEqual([ok, true]);
    }
  });

  test('anything else is refused: userinfo, bad pct-encoding, a port with a letter, a second colon', () => {
    for (const bad of ['user@h', 'h%4', 'h%zz', 'h%', 'h:8a', 'h:80:80', 'h/x', 'h h', 'h"']) {
      expect([bad, isValidHost(bad)]).toEqual([bad, false]);
    }
  });

  test('absolute-form needs a host; CONNECT needs a host and a port', () => {
    expect(verdict('GET http://caf%C3%A9.example:81/a?b HTTP/1.1\r\nHost: h\r\n\r\n')).toBe('/a');
    expect(verdict('GET http://:80/x HTTP/1.1\r\nHost: h\r\n\r\n')).toBe(400);
    expect(splitTarget('CONNECT', '[2001:db8::1]:443')).toMatchObject({ form: 'authority' });
    expect(splitTarget('CONNECT', '[2001:db8::1]')).toBeNull();
    expect(splitTarget('CONNECT', 'example.com:')).toBeNull();
  });
});
