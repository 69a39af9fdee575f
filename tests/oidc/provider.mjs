// An independent OpenID Connect provider for tests/oidc_provider.rs:
// panva's certified `oidc-provider`, configured from one JSON argument.
//
//   node provider.mjs '{"trailing_slash":false,"conform_id_token_claims":false,
//     "client":{"client_id":..,"client_secret":..,"redirect_uris":[..],
//               "post_logout_redirect_uris":[..]},
//     "accounts":{"<account id>":{"email":..,"email_verified":true,"name":..}},
//     "signing_key_pkcs8":"<base64 DER, optional>"}'
//
// It listens on 127.0.0.1 on a port the OS picks, then prints one line of JSON
// (`{"issuer":"http://127.0.0.1:PORT"}`) to stdout. Sign-in uses the provider's
// own development interactions (a login form that takes any password, then a
// consent form); an account id not in `accounts` is refused.
//
// Back-channel logout is on: a client with `backchannel_logout_uri` gets a
// logout token POSTed there when its user signs out at the provider (with
// `backchannel_logout_session_required`, ID and logout tokens carry `sid`).
import { createServer } from 'node:http';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const settings = JSON.parse(process.argv[2] ?? '{}');
const accounts = settings.accounts ?? {};

// A fresh RSA key, or the test's own (`signing_key_pkcs8`, base64 DER) so the
// test can sign tokens the provider's JWKS vouches for.
function signingKey() {
  const privateKey = settings.signing_key_pkcs8
    ? createPrivateKey({ key: Buffer.from(settings.signing_key_pkcs8, 'base64'), format: 'der', type: 'pkcs8' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  return { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };
}

// The provider's own fetch refuses loopback addresses (its SSRF guard); the
// sidecar under test listens on one, so back-channel logout requests go out
// without the guard, to loopback only.
function loopbackFetch(url, { dispatcher: _guard, ...options }) {
  const { hostname } = new URL(url);
  if (hostname !== '127.0.0.1' && hostname !== '[::1]') {
    return Promise.reject(new Error(`test provider: refusing to fetch ${url}`));
  }
  return globalThis.fetch(url, options);
}

async function findAccount(_ctx, id) {
  const claims = accounts[id];
  if (!claims) return undefined;
  return { accountId: id, async claims() { return { sub: id, ...claims }; } };
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}${settings.trailing_slash ? '/' : ''}`;
  const provider = new Provider(issuer, {
    clients: [settings.client],
    findAccount,
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      groups: ['groups'],
    },
    conformIdTokenClaims: settings.conform_id_token_claims ?? false,
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    fetch: loopbackFetch,
  });
  provider.on('backchannel.error', (_ctx, err, client) => {
    console.error(`back-channel logout to ${client.backchannelLogoutUri} failed: ${err.message}`);
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

// The test kills this process; also end when its stdin closes (the test died).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
