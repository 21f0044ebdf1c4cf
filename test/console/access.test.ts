// Who may use the console (provider/console/security.ts), rule by rule: pure, no server.
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { isLoopback, listenAddress, refusal, type Access } from '../../provider/console/security';

const local: Access = { token: 'secret-token-123', loopback: true, port: 8080, scheme: 'http' };
const open: Access = { ...local, loopback: false, scheme: 'https' };
const host = '127.0.0.1:8080';
const act = { method: 'POST', host, origin: `http://${host}`, fetchSite: 'same-origin', token: local.token };

describe('console access (unit)', () => {
  it('tells the loopback from other addresses', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopback(a), true, a);
    for (const a of ['0.0.0.0', '10.0.0.4', '::', 'example.com', '128.0.0.1']) assert.equal(isLoopback(a), false, a);
  });

  it('on the loopback, reads need no token but the Host must name the loopback', () => {
    assert.equal(refusal(local, { method: 'GET', host }), undefined);
    assert.equal(refusal(local, { method: 'GET', host: 'localhost:8080' }), undefined);
    assert.equal(refusal(local, { method: 'GET', host: 'rebound.example:8080' })?.status, 403);
    assert.equal(refusal(local, { method: 'GET', host: '127.0.0.1:9999' })?.status, 403);
    assert.equal(refusal(local, { method: 'GET' })?.status, 403);
  });

  it('off the loopback, every read needs the token', () => {
    assert.equal(refusal(open, { method: 'GET', host: '10.0.0.4:8080' })?.status, 401);
    assert.equal(refusal(open, { method: 'GET', host: '10.0.0.4:8080', token: 'secret-token-12' })?.status, 401);
    assert.equal(refusal(open, { method: 'GET', host: '10.0.0.4:8080', token: open.token }), undefined);
  });

  it('an action needs the token, the same origin and a same-origin fetch', () => {
    assert.equal(refusal(local, act), undefined);
    assert.equal(refusal(local, { ...act, token: undefined })?.status, 401);
    assert.equal(refusal(local, { ...act, token: 'wrong' })?.status, 401);
    assert.equal(refusal(local, { ...act, origin: undefined })?.status, 403);
    assert.equal(refusal(local, { ...act, origin: 'http://evil.example' })?.status, 403);
    assert.equal(refusal(local, { ...act, origin: 'https://127.0.0.1:8080' })?.status, 403);
    assert.equal(refusal(local, { ...act, fetchSite: 'cross-site' })?.status, 403);
    assert.equal(refusal(local, { ...act, fetchSite: undefined }), undefined); // an older browser sends none
    // off the loopback the page is served over HTTPS: its own requests carry that origin
    assert.equal(refusal(open, { ...act, host: '10.0.0.4:8080', origin: 'https://10.0.0.4:8080' }), undefined);
    assert.equal(refusal(open, { ...act, host: '10.0.0.4:8080', origin: 'http://10.0.0.4:8080' })?.status, 403);
  });

  it('listens on an IP address or localhost only, refusing anything else in one line naming --address', () => {
    for (const a of ['127.0.0.1', '0.0.0.0', '::', '::1', '10.0.0.4', 'localhost']) assert.equal(listenAddress(a), a);
    for (const a of ['example.com', '0.0.0.0:8080', '', '256.1.1.1', 'http://127.0.0.1']) {
      assert.throws(
        () => listenAddress(a),
        (e: Error) =>
          /^--address .*: not an address to listen on; allowed: an IPv4 or IPv6 address/.test(e.message) && !e.message.includes('\n'),
        a,
      );
    }
  });

  it('pgferry console takes --tls-cert with --tls-key only, and refuses one alone in one line naming the missing flag', () => {
    const server = ['console', '--target-host', 'h'];
    const both = parseCli([...server, '--address', '0.0.0.0', '--tls-cert', 'c.pem', '--tls-key', 'k.pem']);
    assert.deepEqual(both.console, { port: undefined, address: '0.0.0.0', tls: { certFile: 'c.pem', keyFile: 'k.pem' } });
    assert.throws(
      () => parseCli([...server, '--tls-cert', 'c.pem']),
      (e: Error) => /^--tls-key: give --tls-cert and --tls-key together/.test(e.message),
    );
    assert.throws(
      () => parseCli([...server, '--tls-key', 'k.pem']),
      (e: Error) => /^--tls-cert: give --tls-cert and --tls-key together/.test(e.message),
    );
  });
});
