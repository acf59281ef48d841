import crypto from 'node:crypto';
import { expect } from 'chai';
import { createPersonalDataCipher } from '../../services/crypto/personalData.ts';
import { AppError, toErrorBody } from '../../services/errors.ts';
import { knowledgeBaseSchema, RIZZ_KNOWLEDGE_BASE, type CareMethod } from '../../services/rizz/knowledgeBase.ts';
import { normalizePhone, phoneLookupKey } from '../../services/rizz/phone.ts';
import { matchRecommendations, parseReport, reportJsonSchema, reportPrompt, type RizzReport } from '../../services/rizz/report.ts';

// The report of seed 002 §4.4, as the model would write it.
const seedReport = {
  summary: '전반적인 개선 방향 요약',
  improvements: [
    { area: '피부', description: '피부톤 균일화 및 광채 개선', recommendations: ['SC003', 'P007'] },
    { area: '얼굴 윤곽', description: '턱선 정의 및 V라인 개선', recommendations: ['SC005', 'SC007'] },
  ],
  timeline: '8-12주 예상',
  estimated_cost: '300,000 - 800,000원',
};

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected an AppError');
}

describe('rizz: building blocks', () => {
  describe('knowledge base', () => {
    it('holds about 30 methods with unique codes, including the codes the seed cites', () => {
      expect(RIZZ_KNOWLEDGE_BASE.length).to.be.within(25, 40);
      const codes = RIZZ_KNOWLEDGE_BASE.map((m) => m.code);
      expect(new Set(codes).size).to.equal(codes.length);
      expect(codes).to.include.members(['SC003', 'SC005', 'SC007', 'P007']);
      for (const prefix of ['SC', 'P', 'H', 'ST', 'F', 'D']) expect(codes.some((c) => c.replace(/\d+$/, '') === prefix), prefix).to.equal(true);
    });

    it('is valid against its schema: Korean text, sane ranges, prefix matching the category', () => {
      expect(knowledgeBaseSchema.safeParse(RIZZ_KNOWLEDGE_BASE).success).to.equal(true);
      for (const m of RIZZ_KNOWLEDGE_BASE) {
        expect(m.title, m.code).to.match(/[가-힣]/);
        expect(m.description, m.code).to.match(/[가-힣]/);
        expect(m.typicalCostKrw.min, m.code).to.be.at.most(m.typicalCostKrw.max);
        expect(m.durationWeeks.min, m.code).to.be.at.least(1);
      }
    });

    it('refuses duplicate codes, reversed ranges and a code outside its category', () => {
      const [a] = RIZZ_KNOWLEDGE_BASE;
      const dup = knowledgeBaseSchema.safeParse([a, { ...a }]);
      expect(dup.success).to.equal(false);
      expect(dup.error!.issues[0].message).to.include('duplicate code SC001');
      expect(knowledgeBaseSchema.safeParse([{ ...a, typicalCostKrw: { min: 10, max: 5 } }]).success).to.equal(false);
      expect(knowledgeBaseSchema.safeParse([{ ...a, category: 'hair' }]).success).to.equal(false);
      expect(knowledgeBaseSchema.safeParse([{ ...a, code: 'XX001' }]).success).to.equal(false);
    });
  });

  describe('report', () => {
    it('parses the seed report', () => {
      const report = parseReport(JSON.stringify(seedReport));
      expect(report).to.deep.equal(seedReport);
    });

    it('takes the JSON out of a ```json fence, with or without words around it', () => {
      expect(parseReport('```json\n' + JSON.stringify(seedReport, null, 2) + '\n```')).to.deep.equal(seedReport);
      expect(parseReport('리포트입니다:\n```\n' + JSON.stringify(seedReport) + '\n```\n감사합니다.')).to.deep.equal(seedReport);
    });

    it('drops keys the schema does not know and trims text', () => {
      const report = parseReport(JSON.stringify({ ...seedReport, summary: '  요약  ', extra: 'x' }));
      expect(report.summary).to.equal('요약');
      expect(report).to.not.have.property('extra');
    });

    it('answers 422 invalid_report for text that is not JSON', () => {
      for (const text of ['리포트를 만들 수 없습니다', '', '```json\n{"summary": \n```', '{"summary": "a"']) {
        const err = thrown(() => parseReport(text));
        expect(err.status, text).to.equal(422);
        expect(err.code).to.equal('invalid_report');
      }
    });

    it('names the missing fields', () => {
      const { timeline: _t, ...noTimeline } = seedReport;
      const err = thrown(() => parseReport(JSON.stringify({ ...noTimeline, improvements: [{ area: '피부', recommendations: [] }] })));
      expect(err).to.include({ status: 422, code: 'invalid_report' });
      expect(err.issues.map((i) => i.field)).to.include.members(['timeline', 'improvements.0.description']);
      expect(toErrorBody(err).errors).to.have.length(err.issues.length);
    });

    it('refuses no improvements, more than six, and over-long text', () => {
      const improvement = seedReport.improvements[0];
      for (const improvements of [[], Array.from({ length: 7 }, () => improvement)]) {
        const err = thrown(() => parseReport(JSON.stringify({ ...seedReport, improvements })));
        expect(err.code).to.equal('invalid_report');
        expect(err.issues[0].field).to.equal('improvements');
      }
      expect(parseReport(JSON.stringify({ ...seedReport, improvements: Array.from({ length: 6 }, () => improvement) })).improvements).to.have.length(6);
      expect(thrown(() => parseReport(JSON.stringify({ ...seedReport, summary: '가'.repeat(1001) }))).issues[0].field).to.equal('summary');
      expect(thrown(() => parseReport(JSON.stringify({ ...seedReport, summary: 'x'.repeat(40_000) }))).code).to.equal('invalid_report');
    });

    it('refuses strings Postgres cannot store', () => {
      const err = thrown(() => parseReport(JSON.stringify({ ...seedReport, summary: 'a\u0000b' })));
      expect(err.code).to.equal('invalid_report');
      expect(err.issues[0].field).to.equal('summary');
    });

    it('has a JSON schema for structured output', () => {
      expect(reportJsonSchema).to.include({ type: 'object', additionalProperties: false });
      expect((reportJsonSchema as { required?: string[] }).required).to.have.members(['summary', 'improvements', 'timeline', 'estimated_cost']);
    });
  });

  describe('matching recommendations', () => {
    it('ranks the seed report codes in order of appearance under their area', () => {
      const { rows, unknown } = matchRecommendations(parseReport(JSON.stringify(seedReport)), RIZZ_KNOWLEDGE_BASE);
      expect(rows).to.deep.equal([
        { code: 'SC003', area: '피부', rank: 1 },
        { code: 'P007', area: '피부', rank: 2 },
        { code: 'SC005', area: '얼굴 윤곽', rank: 3 },
        { code: 'SC007', area: '얼굴 윤곽', rank: 4 },
      ]);
      expect(unknown).to.deep.equal([]);
    });

    it('drops unknown codes and reports them, keeps the first of duplicates, reads codes case-insensitively', () => {
      const report: RizzReport = {
        ...seedReport,
        improvements: [
          { area: '피부', description: 'a', recommendations: ['SC003', 'ZZ999', 'sc003', 'P007'] },
          { area: '헤어', description: 'b', recommendations: ['P007', 'H001', 'ZZ999', 'SC999'] },
        ],
      };
      const { rows, unknown } = matchRecommendations(report, RIZZ_KNOWLEDGE_BASE);
      expect(rows).to.deep.equal([
        { code: 'SC003', area: '피부', rank: 1 },
        { code: 'P007', area: '피부', rank: 2 },
        { code: 'H001', area: '헤어', rank: 3 },
      ]);
      expect(unknown).to.deep.equal([{ code: 'ZZ999', area: '피부' }, { code: 'SC999', area: '헤어' }]);
    });

    it('matches against the knowledge base it is given', () => {
      const small: CareMethod[] = RIZZ_KNOWLEDGE_BASE.filter((m) => m.code === 'SC005');
      const { rows, unknown } = matchRecommendations(seedReport, small);
      expect(rows).to.deep.equal([{ code: 'SC005', area: '얼굴 윤곽', rank: 1 }]);
      expect(unknown.map((u) => u.code)).to.deep.equal(['SC003', 'P007', 'SC007']);
    });
  });

  describe('report prompt', () => {
    it('asks for exactly the JSON shape and lists every allowed code', () => {
      const { messages, allowedCodes } = reportPrompt({ imagePrompt: 'clear skin, defined jawline', knowledgeBase: RIZZ_KNOWLEDGE_BASE });
      expect(messages.map((m) => m.role)).to.deep.equal(['system', 'user']);
      const [system, user] = messages;
      for (const key of ['"summary"', '"improvements"', '"area"', '"description"', '"recommendations"', '"timeline"', '"estimated_cost"']) expect(system.content).to.include(key);
      expect(allowedCodes).to.deep.equal(RIZZ_KNOWLEDGE_BASE.map((m) => m.code));
      for (const code of allowedCodes) expect(system.content).to.include(code);
      expect(system.content).to.include('레이저 토닝');
      expect(user.content).to.have.length(1);
      expect(user.content[0]).to.include({ type: 'text' });
      expect(user.content[0].text).to.include('clear skin, defined jawline').and.include('3장');
    });

    it('lists only the knowledge base it is given', () => {
      const kb = RIZZ_KNOWLEDGE_BASE.filter((m) => m.code.startsWith('D'));
      const { messages, allowedCodes } = reportPrompt({ imagePrompt: 'smile', knowledgeBase: kb, generatedImages: 2 });
      expect(allowedCodes).to.deep.equal(['D001', 'D002', 'D003']);
      expect(messages[0].content).to.not.include('SC003');
      expect(messages[1].content[0].text).to.include('2장');
    });
  });

  describe('phone numbers', () => {
    it('normalises Korean mobile numbers to E.164', () => {
      for (const input of ['+821012345678', '010-1234-5678', '01012345678', '010 1234 5678', '+82 10-1234-5678', '+82 10 1234 5678', '+82 010-1234-5678', '82-10-1234-5678', '(010) 1234.5678', '  010-1234-5678  ']) {
        expect(normalizePhone(input), input).to.equal('+821012345678');
      }
    });

    it('refuses landlines, VoIP, foreign and malformed numbers with a 400 naming the field', () => {
      for (const input of ['02-123-4567', '031-123-4567', '070-1234-5678', '+14155552671', '+8613812345678', '010-1234-56789', '010-CALL-ME00', '010-1234-5678 ext 3', 'tel:+821012345678', '', '12', '١٠١٢٣٤٥٦٧٨']) {
        const err = thrown(() => normalizePhone(input, 'recipient'));
        expect(err.status, input).to.equal(400);
        expect(err.code).to.equal('invalid_phone');
        expect(err.issues).to.deep.equal([{ field: 'recipient', message: err.message }]);
      }
      expect(thrown(() => normalizePhone('02-123-4567')).issues[0].field).to.equal('phone');
    });

    it('keys the lookup hash by the secret, stably, whatever format the number came in', () => {
      const key = crypto.randomBytes(32);
      const cipher = createPersonalDataCipher(key);
      const a = phoneLookupKey(normalizePhone('010-1234-5678'), cipher);
      expect(a).to.match(/^[0-9a-f]{64}$/);
      expect(phoneLookupKey(normalizePhone('+82 10 1234 5678'), createPersonalDataCipher(Buffer.from(key)))).to.equal(a);
      expect(phoneLookupKey('+821012345679', cipher)).to.not.equal(a);
      expect(phoneLookupKey('+821012345678', createPersonalDataCipher(crypto.randomBytes(32)))).to.not.equal(a);
      // A keyed hash, not a bare one: the number's plain SHA-256 does not reveal it.
      expect(a).to.not.equal(crypto.createHash('sha256').update('+821012345678').digest('hex'));
      expect(() => phoneLookupKey('010-1234-5678', cipher)).to.throw(TypeError);
    });
  });
});
