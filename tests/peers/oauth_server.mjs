// A real OAuth 2.0 / OpenID Connect authorization server (npm oidc-provider) for
// Switchboard's tests: one confidential client, PKCE required, short-lived access
// tokens, refresh-token rotation (a reused old refresh token kills the grant),
// revocation. GET /__stats counts token requests by grant type and outcome.
//
// Usage: node oauth_server.mjs --port N --redirect-uri URL [--access-ttl SECONDS] [--clock-tolerance SECONDS]
// Prints "ready" once it listens.
import Provider from 'oidc-provider';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg('port'));
const redirectUri = arg('redirect-uri');
const accessTtl = Number(arg('access-ttl', '60'));
// Tokens are refused once expired, not 15 s later (the library's default leeway).
const clockTolerance = Number(arg('clock-tolerance', '0'));

const stats = { token: {}, errors: {}, revocations: 0 };
const bump = (map, key) => { map[key] = (map[key] || 0) + 1; };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'switchboard-test',
    client_secret: 'switchboard-test-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
  },
  ttl: { AccessToken: accessTtl, AuthorizationCode: 60, RefreshToken: 86400, Grant: 86400, Interaction: 600, Session: 600 },
  clockTolerance,
  rotateRefreshToken: true,
  issueRefreshToken: async () => true,
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
  cookies: { keys: ['switchboard-test-cookie-key'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test`, name: `User ${id}` }),
  }),
});
provider.proxy = false;

provider.on('grant.success', (ctx) => bump(stats.token, ctx.oidc.params.grant_type));
provider.on('grant.error', (ctx, err) => bump(stats.errors, `${ctx.oidc.params?.grant_type}:${err.error}`));

provider.use(async (ctx, next) => {
  if (ctx.path === '/__stats') {
    ctx.body = stats;
    return;
  }
  await next();
  if (ctx.path === '/token/revocation' && ctx.method === 'POST' && ctx.status === 200) {
    stats.revocations += 1;
  }
});

provider.listen(port, '127.0.0.1', () => console.log('ready'));
