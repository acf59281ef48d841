import { expect } from 'chai';
import { createCoolSmsClient, coolSmsAuthorization } from '../../integrations/sms/coolsms.ts';
import type { ApiNode } from '../../server/node.ts';
import { createSmsService } from '../../services/sms/sms.ts';
import { newUser, startNode, stopAllNodes } from '../helpers.ts';
import { startFakeCoolSms, type FakeCoolSms } from '../fakes/coolsms.ts';

const PHONE = '01012345678';

describe('sms: CoolSMS through the real client, every attempt logged without the number in the clear', () => {
  let node: ApiNode;
  let coolsms: FakeCoolSms;
  before(async () => {
    coolsms = await startFakeCoolSms();
    node = await startNode(coolsms.env);
  });
  after(async () => {
    await stopAllNodes();
    await coolsms.close();
  });

  // The node's own SMS service, but with millisecond backoff so retries do not slow the suite.
  const service = (overrides: { apiSecret?: string; timeoutMs?: number } = {}) =>
    createSmsService({
      em: node.ctx.db.orm.em,
      cipher: node.ctx.personalData,
      logger: node.ctx.logger,
      provider: createCoolSmsClient({
        apiKey: coolsms.env.COOLSMS_API_KEY,
        apiSecret: overrides.apiSecret ?? coolsms.env.COOLSMS_API_SECRET,
        sender: coolsms.env.COOLSMS_SENDER,
        baseUrl: coolsms.url,
        timeoutMs: overrides.timeoutMs ?? 5_000,
        retry: { retries: 3, baseDelayMs: 5 },
      }),
    });
  const logsOf = (userId: string) =>
    node.ctx.db.orm.em.fork().execute<Record<string, unknown>[]>('select * from sms_logs where user_id = ? order by id', [userId]);

  it('sends with a signature the fake verifies, and logs the attempt with the number hashed and sealed', async () => {
    const u = await newUser(node);
    const result = await node.services.sms.send({ phone: '010-1234-5678', text: '[Find My Rizz] 리포트가 준비됐어요', purpose: 'rizz.report_ready', userId: u.id });
    expect(result).to.include({ status: 'sent', attempts: 1, offline: false });
    const delivered = coolsms.sent.find((s) => s.messageId === result.messageId)!;
    expect(delivered).to.include({ to: PHONE, from: '0212345678', text: '[Find My Rizz] 리포트가 준비됐어요' });
    const [row] = await logsOf(u.id);
    expect(row).to.include({ status: 'sent', attempt: 1, provider: 'coolsms', provider_message_id: result.messageId, purpose: 'rizz.report_ready', error: null });
    expect(row.phone_hash).to.equal(node.ctx.personalData.hash(PHONE));
    expect(node.ctx.personalData.decrypt(row.phone_encrypted as string)).to.equal(PHONE);
    expect(await node.services.sms.recipientOf(row.send_id as string)).to.equal(PHONE);
    assertNoPlainPhone(row);
  });

  it('is refused with CoolSMS\'s error JSON when the signature is wrong, and does not retry', async () => {
    const u = await newUser(node);
    const before = coolsms.requests;
    const result = await service({ apiSecret: 'not-the-secret-at-all-0000000000' }).send({ phone: PHONE, text: 'hi', purpose: 'test.signature', userId: u.id });
    expect(result).to.include({ status: 'failed', error: 'SignatureDoesNotMatch', attempts: 1 });
    expect(coolsms.requests - before).to.equal(1);
    const rows = await logsOf(u.id);
    expect(rows.map((r) => r.status)).to.deep.equal(['failed']);
    expect(rows[0].error).to.match(/^SignatureDoesNotMatch/);
    // A replayed header is refused as CoolSMS refuses it.
    const header = coolSmsAuthorization(coolsms.env.COOLSMS_API_KEY, coolsms.env.COOLSMS_API_SECRET);
    const post = () => fetch(`${coolsms.url}/messages/v4/send`, { method: 'POST', headers: { authorization: header, 'content-type': 'application/json' }, body: JSON.stringify({ message: { to: PHONE, from: '0212345678', text: 'x' } }) });
    expect((await post()).status).to.equal(200);
    const replay = await post();
    expect(replay.status).to.equal(403);
    expect(await replay.json()).to.deep.equal({ errorCode: 'DuplicatedSignature', errorMessage: '15분 안에 동일한 signature 값이 사용되었습니다.' });
  });

  it('retries a 5xx with a fresh signature each time and then succeeds, logging every attempt', async () => {
    const u = await newUser(node);
    coolsms.failNext(2, 500);
    const refusalsBefore = coolsms.refusals.length;
    const result = await service().send({ phone: PHONE, text: '재시도 테스트', purpose: 'test.retry', userId: u.id });
    expect(result).to.include({ status: 'sent', attempts: 3 });
    expect(coolsms.refusals.length).to.equal(refusalsBefore);
    const rows = await logsOf(u.id);
    expect(rows.map((r) => `${r.attempt}:${r.status}`)).to.deep.equal(['1:retrying', '2:retrying', '3:sent']);
    expect(rows[0].error).to.match(/^InternalError/);
    expect(new Set(rows.map((r) => r.send_id)).size).to.equal(1);
    rows.forEach(assertNoPlainPhone);
  });

  it('gives up after 3 retries with a failed log row', async () => {
    const u = await newUser(node);
    coolsms.failNext(10, 503);
    const result = await service().send({ phone: PHONE, text: '실패 테스트', purpose: 'test.give_up', userId: u.id });
    coolsms.failNext(0);
    expect(result).to.include({ status: 'failed', attempts: 4, error: 'InternalError' });
    const rows = await logsOf(u.id);
    expect(rows.map((r) => `${r.attempt}:${r.status}`)).to.deep.equal(['1:retrying', '2:retrying', '3:retrying', '4:failed']);
    rows.forEach(assertNoPlainPhone);
  });

  it('times out a stalled request and retries it', async () => {
    const u = await newUser(node);
    coolsms.stallNext(1);
    const result = await service({ timeoutMs: 200 }).send({ phone: PHONE, text: '지연 테스트', purpose: 'test.stall', userId: u.id });
    expect(result).to.include({ status: 'sent', attempts: 2 });
    const rows = await logsOf(u.id);
    expect(rows.map((r) => r.status)).to.deep.equal(['retrying', 'sent']);
    expect(rows[0].error).to.match(/^timeout/);
  });

  it('refuses a number that is not a Korean mobile number, or a text over 2000 bytes, before sending', async () => {
    try {
      await node.services.sms.send({ phone: PHONE, text: '가'.repeat(1001), purpose: 'test.long' });
      expect.fail('accepted a 2002-byte text');
    } catch (err) {
      expect((err as { issues: { field: string }[] }).issues[0].field).to.equal('text');
    }
    for (const phone of ['02-123-4567', '12345', 'call me']) {
      try {
        await node.services.sms.send({ phone, text: 'x', purpose: 'test.bad' });
        expect.fail(`accepted ${phone}`);
      } catch (err) {
        expect((err as { status: number }).status).to.equal(400);
        expect((err as { issues: { field: string }[] }).issues[0].field).to.equal('phone');
      }
    }
  });

  it('sends the SMS a notify() call asks for, and records it as a delivery', async () => {
    const u = await newUser(node);
    const result = await node.services.notifications.notify(u.id, {
      type: 'rizz.report_ready', category: 'system', title: '리포트 완성', body: '지금 확인해 보세요',
      channels: { sms: { phone: '+82 10-1234-5678', text: '[Find My Rizz] 리포트: https://example.com/r/abc' } },
    });
    const sms = result.deliveries.find((d) => d.channel === 'sms')!;
    expect(sms.outcome).to.equal('sent');
    expect(coolsms.sent.some((s) => s.messageId === sms.detail && s.text.includes('https://example.com/r/abc'))).to.equal(true);
    const rows = await logsOf(u.id);
    expect(rows.map((r) => r.purpose)).to.deep.equal(['notification.rizz.report_ready']);
    rows.forEach(assertNoPlainPhone);
  });
});

describe('sms: offline driver', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  it('writes the message to offline_outbox with the number masked, and says it is offline', async () => {
    const u = await newUser(node);
    const result = await node.services.sms.send({ phone: '010 9876 5432', text: '오프라인 문자', purpose: 'test.offline', userId: u.id });
    expect(result).to.include({ status: 'sent', offline: true, attempts: 1 });
    const id = result.messageId!.match(/^offline-outbox-(\d+)$/)![1];
    const [row] = await node.ctx.db.orm.em.fork().execute<{ channel: string; payload: Record<string, unknown> }[]>('select channel, payload from offline_outbox where id = ?', [id]);
    expect(row.channel).to.equal('sms');
    expect(row.payload).to.deep.equal({ driver: 'offline', to: '010****5432', text: '오프라인 문자', offline: true });
    const [log] = await node.ctx.db.orm.em.fork().execute<Record<string, unknown>[]>('select * from sms_logs where user_id = ?', [u.id]);
    expect(log).to.include({ provider: 'offline', status: 'sent' });
    expect(JSON.stringify(log)).to.not.include('98765432');
  });
});

// Scans every column of an sms_logs row for the number in any usual spelling.
function assertNoPlainPhone(row: Record<string, unknown>): void {
  const text = JSON.stringify(row);
  for (const spelling of [PHONE, '010-1234-5678', '1012345678', '12345678']) expect(text).to.not.include(spelling);
}
