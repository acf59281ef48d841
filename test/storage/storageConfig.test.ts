// Storage settings are validated at start: production refuses the offline driver, and S3 settings
// that only make sense together fail together, naming the variable.
import { expect } from 'chai';
import { loadConfig } from '../../server/config.ts';
import { completeProductionEnv, configRefusal } from '../config.ts';

describe('storage: configuration', () => {
  const configError = configRefusal;

  it('defaults to the local driver under .data/storage, signing URLs for localhost:PORT', () => {
    const config = loadConfig({ NODE_ENV: 'development', PORT: '3456' });
    expect(config).to.include({ STORAGE_DRIVER: 'local', STORAGE_LOCAL_DIR: '.data/storage', storagePublicUrl: 'http://localhost:3456', STORAGE_MAX_UPLOAD_BYTES: 12 * 1024 * 1024 });
    expect(loadConfig({ PUBLIC_URL: 'https://api.example.com' }).storagePublicUrl).to.equal('https://api.example.com');
    expect(loadConfig({ PUBLIC_URL: 'https://api.example.com', STORAGE_PUBLIC_URL: 'https://files.example.com' }).storagePublicUrl).to.equal('https://files.example.com');
  });

  it('refuses the offline local driver in production', () => {
    const message = configError({ NODE_ENV: 'production', STORAGE_DRIVER: 'local' });
    expect(message).to.match(/Refusing to start in production/);
    expect(message).to.include('STORAGE_DRIVER');
    expect(configError({ NODE_ENV: 'production' })).to.include('STORAGE_DRIVER');
  });

  it('starts in production once S3 is configured', () => {
    const config = loadConfig({ ...completeProductionEnv(), STORAGE_DRIVER: 's3', S3_BUCKET: 'rp-prod', S3_REGION: 'ap-northeast-2' });
    expect(config).to.include({ STORAGE_DRIVER: 's3', S3_BUCKET: 'rp-prod' });
  });

  it('requires S3_BUCKET with STORAGE_DRIVER=s3, and both halves of a key pair, in every environment', () => {
    expect(configError({ STORAGE_DRIVER: 's3' })).to.include('S3_BUCKET');
    expect(configError({ STORAGE_DRIVER: 's3', S3_BUCKET: 'rp-media', S3_ACCESS_KEY_ID: 'AKIA' })).to.include('S3_SECRET_ACCESS_KEY');
    expect(configError({ STORAGE_DRIVER: 'ftp' })).to.include('STORAGE_DRIVER');
    expect(configError({ S3_BUCKET: 'Not_A_Bucket' })).to.include('S3_BUCKET');
    const r2 = loadConfig({ STORAGE_DRIVER: 's3', S3_BUCKET: 'rp-media', S3_REGION: 'auto', S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's', S3_FORCE_PATH_STYLE: 'true' });
    expect(r2).to.include({ S3_FORCE_PATH_STYLE: true, S3_MAX_ATTEMPTS: 3, S3_REGION: 'auto' });
  });
});
