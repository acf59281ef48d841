// Configuration test helpers: the message of a refused configuration, and a production
// environment in which every provider is real (each test then removes what it examines).
import crypto from 'node:crypto';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../server/config.ts';

export function configRefusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  return expect.fail('config was accepted');
}

let serviceAccount: string | undefined;

export function completeProductionEnv(): Record<string, string> {
  serviceAccount ??= JSON.stringify({
    type: 'service_account',
    project_id: 'prod-project',
    client_email: 'push@prod-project.iam.gserviceaccount.com',
    private_key: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  });
  return {
    NODE_ENV: 'production',
    JWT_SECRET: 'p'.repeat(40),
    URL_SIGNING_SECRET: 'u'.repeat(40),
    DATABASE_URL: 'postgres://db/app',
    GOOGLE_CLIENT_IDS: 'a.apps.googleusercontent.com,b.apps.googleusercontent.com',
    OPENAI_API_KEY: 'sk-prod',
    STORAGE_DRIVER: 's3',
    S3_BUCKET: 'rp-prod',
    PERSONAL_DATA_KEY: crypto.randomBytes(32).toString('hex'),
    FCM_SERVICE_ACCOUNT_JSON: serviceAccount,
    COOLSMS_API_KEY: 'NCS-key',
    COOLSMS_API_SECRET: 'coolsms-secret',
    COOLSMS_SENDER: '01012345678',
    TOSS_SECRET_KEY: 'live_sk',
    TOSS_CLIENT_KEY: 'live_ck',
    EMAIL_ENC_KEY: crypto.randomBytes(32).toString('base64url'),
    REVENUECAT_API_KEY: 'sk_rc_live',
    REVENUECAT_PURCHASE_LINK_URL: 'https://pay.rev.cat/live_token',
    REPLICATE_API_TOKEN: 'r8_live_token',
  };
}
