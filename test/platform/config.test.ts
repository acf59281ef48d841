import { expect } from 'chai';
import { loadConfig } from '../../server/config.ts';
import { completeProductionEnv, configRefusal as refusal } from '../config.ts';

describe('platform: configuration', () => {
  it('runs on defaults with no environment at all', () => {
    const config = loadConfig({});
    expect(config.PORT).to.equal(3000);
    expect(config.DATABASE_URL).to.equal(undefined);
    expect(config.oauthOffline).to.equal(true);
    expect(config.TIME_ZONE).to.equal('Asia/Seoul');
  });

  it('names each bad variable and why', () => {
    const message = refusal({ PORT: 'eighty', DATABASE_URL: 'mysql://x', JWT_SECRET: 'short', TIME_ZONE: 'Mars/Olympus', CORS_ORIGINS: 'https://a.example,https://b.example', METRICS_TOKEN: 'guessable' });
    expect(message).to.match(/PORT:/);
    expect(message).to.match(/DATABASE_URL: must be a postgres:\/\/ URL/);
    expect(message).to.match(/JWT_SECRET: must be at least 32 characters/);
    expect(message).to.match(/TIME_ZONE: not an IANA time zone/);
    expect(message).to.match(/METRICS_TOKEN: must be at least 16 characters/);
    expect(message).to.not.match(/CORS_ORIGINS/);
  });

  it('reports every half-configured provider at once', () => {
    const message = refusal({ STORAGE_DRIVER: 's3', TOSS_SECRET_KEY: 'test_sk', COOLSMS_API_KEY: 'key' });
    expect(message).to.match(/S3_BUCKET/).and.to.match(/TOSS_CLIENT_KEY/).and.to.match(/COOLSMS_API_SECRET/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).DATABASE_URL).to.equal(undefined);
  });

  it('refuses production on default secrets, the embedded database or the offline sign-in driver', () => {
    const message = refusal({ NODE_ENV: 'production' });
    expect(message).to.match(/JWT_SECRET/).and.to.match(/URL_SIGNING_SECRET/).and.to.match(/GOOGLE_CLIENT_IDS/).and.to.match(/DATABASE_URL/);
    expect(refusal({ ...completeProductionEnv(), OAUTH_OFFLINE: 'true' })).to.match(/offline dev issuer/);
    expect(refusal({ ...completeProductionEnv(), PAYMENTS_SANDBOX: 'true' })).to.match(/sandbox payment provider/);
    expect(refusal({ ...completeProductionEnv(), REPLICATE_API_TOKEN: '' })).to.match(/REPLICATE_API_TOKEN.*OFFLINE image driver/);
  });

  it('starts in production once everything real is configured', () => {
    const config = loadConfig(completeProductionEnv());
    expect(config.isProduction).to.equal(true);
    expect(config.GOOGLE_CLIENT_IDS).to.deep.equal(['a.apps.googleusercontent.com', 'b.apps.googleusercontent.com']);
  });
});
