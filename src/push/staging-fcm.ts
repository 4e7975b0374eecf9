// Push to an FCM-compatible endpoint instead of Google's (FCM_API_URL: staging, black-box tests).
// firebase-admin has no setting for its hosts, so its requests keep their URLs and their
// connections go to the endpoint (an agent whose sockets open there); and the OAuth token step,
// whose URL google-auth-library fixes, is done here against the service account's own `token_uri`
// (the double's, for a staging key). Everything else is firebase-admin's own code.
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Credential } from 'firebase-admin/app';
import { RetryAfterAgent } from './retry-after.ts';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  token_uri?: string;
}

/** An https.Agent whose every connection goes to `apiUrl` (plain TCP for http://, TLS for https://). */
export function agentTo(apiUrl: string): RetryAfterAgent {
  const url = new URL(apiUrl);
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  class ToEndpoint extends RetryAfterAgent {
    override createConnection(): net.Socket {
      return secure ? tls.connect({ host: url.hostname, port, servername: url.hostname }) : net.connect(port, url.hostname);
    }
  }
  return new ToEndpoint();
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** The OAuth 2.0 JWT-bearer grant of a service account, at its token_uri. */
export function serviceAccountCredential(serviceAccount: object | string): Credential {
  const key = (typeof serviceAccount === 'string' ? JSON.parse(readFileSync(serviceAccount, 'utf8')) : serviceAccount) as ServiceAccountKey;
  const tokenUri = key.token_uri ?? GOOGLE_TOKEN_URI;
  return {
    async getAccessToken() {
      const now = Math.floor(Date.now() / 1000);
      const unsigned = `${base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${base64url(
        JSON.stringify({ iss: key.client_email, scope: SCOPE, aud: tokenUri, iat: now, exp: now + 3600 }),
      )}`;
      const signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key);
      const response = await fetch(tokenUri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${base64url(signature)}` }),
      });
      if (!response.ok) throw new Error(`the token endpoint ${tokenUri} answered ${response.status}`);
      const token = (await response.json()) as { access_token: string; expires_in: number };
      return { access_token: token.access_token, expires_in: token.expires_in };
    },
  };
}
