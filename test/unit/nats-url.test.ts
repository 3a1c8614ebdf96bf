// NATS URLs with credentials: split into client options (the v3 client ignores userinfo), redacted for messages, built for the embedded server.
import { describe, expect, it } from 'vitest';
import { natsConnectionOptions, natsUrlWithCredential, redactNatsUrl } from '../../src/transport/nats-url.ts';

describe('natsConnectionOptions', () => {
  it('a URL without credentials is the server alone', () => {
    expect(natsConnectionOptions('nats://127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222' });
    expect(natsConnectionOptions('localhost:4222')).toEqual({ servers: 'localhost:4222' });
  });

  it('user:pass@ becomes user and pass, percent-decoded; the server keeps no userinfo', () => {
    expect(natsConnectionOptions('nats://eddy:0123abcd@127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222', user: 'eddy', pass: '0123abcd' });
    expect(natsConnectionOptions('tls://a%40b:p%3Aw%2Fd@host:4443')).toEqual({ servers: 'tls://host:4443', user: 'a@b', pass: 'p:w/d' });
    // An unencoded '@' in the password: the last '@' of the authority ends the userinfo.
    expect(natsConnectionOptions('nats://u:p@ss@h:1')).toEqual({ servers: 'nats://h:1', user: 'u', pass: 'p@ss' });
  });

  it('userinfo without a colon is a token', () => {
    expect(natsConnectionOptions('nats://s3cr3t@127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222', token: 's3cr3t' });
  });

  it('a comma-separated list names several servers; the first credentials apply to all', () => {
    expect(natsConnectionOptions('nats://u:p@a:1, nats://b:2')).toEqual({ servers: ['nats://a:1', 'nats://b:2'], user: 'u', pass: 'p' });
  });
});

describe('redactNatsUrl', () => {
  it('hides credentials and leaves other URLs alone', () => {
    expect(redactNatsUrl('nats://eddy:0123abcd@127.0.0.1:4222')).toBe('nats://***@127.0.0.1:4222');
    expect(redactNatsUrl('nats://tok@h:1,nats://h2:2')).toBe('nats://***@h:1,nats://h2:2');
    expect(redactNatsUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
    expect(redactNatsUrl('not a url')).toBe('not a url');
  });
});

describe('natsUrlWithCredential', () => {
  it('round-trips through natsConnectionOptions, whatever the characters', () => {
    const cred = { user: 'eddy', pass: 'a:b@c/d%e' };
    const url = natsUrlWithCredential('nats://127.0.0.1:4222', cred);
    expect(natsConnectionOptions(url)).toEqual({ servers: 'nats://127.0.0.1:4222', ...cred });
  });
});
