import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../../src/common/errors.js';
import { globusOpError } from '../../../../src/control/api/routes/operations.js';
import { redirectAllowed, type ClientRecord } from '../../../../src/control/auth/clients.js';
import { byResourceServer, parseScopes } from '../../../../src/control/auth/scopes.js';
import { esc } from '../../../../src/control/auth/pages.js';

const client = (over: Partial<ClientRecord>): ClientRecord => ({
  id: 'c', name: 'c', public: true, redirectUris: [], resourceServer: false, dependentScopes: [], ownerId: null, createdAt: 0, disabled: false, ...over,
});

describe('redirect URI matching', () => {
  it('is exact, except any port on a public client\'s port-less loopback URI (RFC 8252)', () => {
    const pub = client({ redirectUris: ['http://127.0.0.1/callback', 'https://app.example/cb'] });
    expect(redirectAllowed(pub, 'https://app.example/cb')).toBe(true);
    expect(redirectAllowed(pub, 'https://app.example/cb/')).toBe(false);
    expect(redirectAllowed(pub, 'https://app.example:8443/cb')).toBe(false);
    expect(redirectAllowed(pub, 'http://127.0.0.1:5123/callback')).toBe(true);
    expect(redirectAllowed(pub, 'http://127.0.0.1:5123/callback/x')).toBe(false);
    expect(redirectAllowed(pub, 'http://localhost:5123/callback')).toBe(false);
    expect(redirectAllowed(pub, 'http://user@127.0.0.1:5123/callback')).toBe(false);
    expect(redirectAllowed({ ...pub, public: false }, 'http://127.0.0.1:5123/callback')).toBe(false);
  });
});

describe('Globus operation error codes', () => {
  it('names the operation in permission and connection errors, and stat misses are NotFound', () => {
    const code = (op: Parameters<typeof globusOpError>[0], c: ConstructorParameters<typeof FerryError>[0]) => (globusOpError(op, new FerryError(c)) as FerryError).code;
    expect(code('mkdir', 'ExternalError.PermissionDenied')).toBe('ExternalError.MkdirFailed.PermissionDenied');
    expect(code('ls', 'ExternalError.PermissionDenied')).toBe('ExternalError.DirListingFailed.PermissionDenied');
    expect(code('rename', 'ExternalError.PermissionDenied')).toBe('ExternalError.RenameFailed.PermissionDenied');
    expect(code('ls', 'ExternalError.GCDisconnected')).toBe('ExternalError.DirListingFailed.GCDisconnected');
    expect(code('stat', 'ClientError.NotFound')).toBe('NotFound');
    expect(code('mkdir', 'ClientError.NotFound')).toBe('ClientError.NotFound');
    expect(code('mkdir', 'ExternalError.GCDisconnected')).toBe('ExternalError.GCDisconnected');
  });
});

describe('scopes and pages', () => {
  it('groups scopes by resource server with auth first', () => {
    const rs = (s: string) => (s.includes('transfer') ? 'transfer' : 'auth.globus.org');
    expect(byResourceServer(parseScopes('urn:globus:auth:scope:transfer.api.globus.org:all openid openid'), rs))
      .toEqual([{ resourceServer: 'auth.globus.org', scopes: ['openid'] }, { resourceServer: 'transfer', scopes: ['urn:globus:auth:scope:transfer.api.globus.org:all'] }]);
  });
  it('escapes everything it renders', () => {
    expect(esc('<a href="x">\'&')).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  });
});
