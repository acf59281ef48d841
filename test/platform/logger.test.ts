import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../server/logger.ts';

describe('platform: log redaction', () => {
  function capture() {
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
    const logger = createLogger({ level: 'info', pretty: false, nodeId: 't', destination: stream });
    return { logger, lines };
  }

  it('removes secrets by key and emails, phone numbers and bearer tokens by pattern', () => {
    const { logger, lines } = capture();
    logger.info(
      { password: 'hunter2hunter2', refreshToken: 'rt_abc', user: { email: 'minji@example.com', note: 'call 010-1234-5678 or +821012345678' }, req: { headers: { authorization: 'Bearer eyJabc.def' } } },
      'login for minji@example.com with Bearer eyJhbGciOi.x.y',
    );
    const out = lines.join('\n');
    for (const secret of ['hunter2', 'rt_abc', 'minji@example.com', '010-1234-5678', '+821012345678', 'eyJabc', 'eyJhbGciOi']) {
      expect(out).to.not.include(secret);
    }
    expect(out).to.include('[REDACTED]').and.to.include('[EMAIL]').and.to.include('[PHONE]');
    expect(JSON.parse(lines[0]).msg).to.equal('login for [EMAIL] with Bearer [REDACTED]');
  });

  it('logs an error with its type, message, stack and code, scrubbed like the rest', () => {
    const { logger, lines } = capture();
    const err = Object.assign(new Error('connect ECONNREFUSED for minji@example.com'), { code: 'ECONNREFUSED' });
    logger.warn({ err }, 'redis down');
    const logged = JSON.parse(lines[0]).err;
    expect(logged).to.include({ type: 'Error', message: 'connect ECONNREFUSED for [EMAIL]', code: 'ECONNREFUSED' });
    expect(logged.stack).to.match(/^Error: connect ECONNREFUSED/);
  });
});
