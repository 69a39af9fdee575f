// An independent OpenID Connect provider for tests/oidc_provider.rs:
// panva's certified `oidc-provider`, configured from one JSON argument.
//
//   node provider.mjs '{"trailing_slash":false,"conform_id_token_claims":false,
//     "client":{"client_id":..,"client_secret":..,"redirect_uris":[..],
//               "post_logout_redirect_uris":[..]},
//     "accounts":{"<account id>":{"email":..,"email_verified":true,"name":..}}}'
//
// It listens on 127.0.0.1 on a port the OS picks, then prints one line of JSON
// (`{"issuer":"http://127.0.0.1:PORT"}`) to stdout. Sign-in uses the provider's
// own development interactions (a login form that takes any password, then a
// consent form); an account id not in `accounts` is refused.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const settings = JSON.parse(process.argv[2] ?? '{}');
const accounts = settings.accounts ?? {};

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };
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
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

// The test kills this process; also end when its stdin closes (the test died).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
