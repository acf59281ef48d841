// The report the vision model writes after the images are generated (seed 002 §4.4): its schema, the
// parser that turns the model's text into it, the matching of its recommended codes against the
// knowledge base, and the prompt that asks for it. All pure: the job pipeline calls the LLM gateway
// and stores the rows.
import { z } from 'zod';
import { AppError, type FieldIssue } from '../errors.ts';
import { hostileStrings } from '../hostileInput.ts';
import type { CareMethod } from './knowledgeBase.ts';

export const MAX_IMPROVEMENTS = 6;
export const MAX_RECOMMENDATIONS_PER_AREA = 6;
// Far above any real report (~2 KB); stops a runaway completion before JSON.parse walks it.
const MAX_REPORT_CHARS = 32_000;

const text = (max: number) => z.string().trim().min(1).max(max);

export const reportImprovementSchema = z.object({
  area: text(40),
  description: text(500),
  // Codes as the model wrote them: matchRecommendations decides which ones exist.
  recommendations: z.array(z.string().trim().min(1).max(20)).max(MAX_RECOMMENDATIONS_PER_AREA),
});

const reportObject = z.object({
  summary: text(1000),
  improvements: z.array(reportImprovementSchema).min(1).max(MAX_IMPROVEMENTS),
  timeline: text(200),
  estimated_cost: text(200),
});
export const reportSchema = reportObject.meta({ id: 'RizzReport' });

export type RizzReport = z.infer<typeof reportSchema>;
export type ReportImprovement = z.infer<typeof reportImprovementSchema>;

// For the provider's structured output (`response_format: { type: 'json_schema', … }`): inline (the
// id above would put it behind a $ref) and closed (`additionalProperties: false`), as strict mode wants.
export const reportJsonSchema = z.toJSONSchema(reportObject, { io: 'output' });

// The model's output is not the client's input: a bad report is the server's upstream failing,
// hence 422 `invalid_report`, which the pipeline may retry; the issues say what was wrong.
function invalidReport(message: string, issues: FieldIssue[] = []): AppError {
  return new AppError(422, 'invalid_report', message, { issues });
}

// Models often wrap JSON in a ```json fence, sometimes with a sentence around it: take the fenced
// block when there is one, else the whole text.
const FENCE = /```[a-zA-Z]*[ \t]*\r?\n?([\s\S]*?)\r?\n?[ \t]*```/;

export function parseReport(textIn: string): RizzReport {
  if (textIn.length > MAX_REPORT_CHARS) throw invalidReport(`the report is longer than ${MAX_REPORT_CHARS} characters`);
  const body = (FENCE.exec(textIn)?.[1] ?? textIn).trim();
  if (!body) throw invalidReport('the report is empty');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw invalidReport(`the report is not JSON: ${(err as Error).message}`.slice(0, 300));
  }
  // Its strings are stored in Postgres, which refuses NUL and lone surrogates.
  const hostile = hostileStrings(value, 'report');
  if (hostile.length) throw invalidReport('the report holds characters that cannot be stored', hostile);
  const parsed = reportSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((i) => ({ field: i.path.length ? i.path.join('.') : 'report', message: i.message, in: 'report' }));
    throw invalidReport(`the report does not match its schema: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`.slice(0, 500), issues);
  }
  return parsed.data;
}

export type RecommendationRow = { code: string; area: string; rank: number };
export type RecommendationMatch = {
  // What job_recommendations stores: each known code once, under the area that first named it,
  // ranked 1, 2, … in the order the report names them.
  rows: RecommendationRow[];
  // Codes the knowledge base does not hold (an invented or mistyped code), for the log and metrics.
  unknown: { code: string; area: string }[];
};

export function matchRecommendations(report: RizzReport, knowledgeBase: readonly Pick<CareMethod, 'code'>[]): RecommendationMatch {
  const known = new Set(knowledgeBase.map((m) => m.code));
  const rows: RecommendationRow[] = [];
  const unknown: RecommendationMatch['unknown'] = [];
  const taken = new Set<string>();
  for (const improvement of report.improvements) {
    for (const raw of improvement.recommendations) {
      // "sc003" and " SC003" are the same code; the knowledge base spells them upper case.
      const code = raw.trim().toUpperCase();
      if (!known.has(code)) {
        if (!unknown.some((u) => u.code === code)) unknown.push({ code, area: improvement.area });
        continue;
      }
      if (taken.has(code)) continue;
      taken.add(code);
      rows.push({ code, area: improvement.area, rank: rows.length + 1 });
    }
  }
  return { rows, unknown };
}

// OpenAI-style chat messages. The user message's content is a list of parts so the caller can append
// the image parts (the original first, then the generated ones) after the text.
export type ReportTextPart = { type: 'text'; text: string };
export type ReportPromptMessages = [
  { role: 'system'; content: string },
  { role: 'user'; content: ReportTextPart[] },
];

export type ReportPromptInput = {
  // The prompt the images were generated with: the report explains the changes it asked for.
  imagePrompt: string;
  knowledgeBase: readonly CareMethod[];
  generatedImages?: number;
};

const won = (n: number) => `${n.toLocaleString('ko-KR')}원`;

export function reportPrompt(input: ReportPromptInput): { messages: ReportPromptMessages; allowedCodes: string[] } {
  const generated = input.generatedImages ?? 3;
  const allowedCodes = input.knowledgeBase.map((m) => m.code);
  const catalogue = input.knowledgeBase
    .map((m) => `- ${m.code} | ${m.title} | ${m.description} | 비용 ${won(m.typicalCostKrw.min)}~${won(m.typicalCostKrw.max)} | 기간 ${m.durationWeeks.min}~${m.durationWeeks.max}주`)
    .join('\n');

  const system = [
    '당신은 외모 관리 코치입니다. 사용자의 원본 사진과 AI가 만든 개선 이미지를 비교해, 이미지에서 달라진 점을 현실적인 관리 방법으로 안내하는 리포트를 씁니다.',
    '원칙:',
    '- 친절하고 중립적인 말투로, 외모를 평가하거나 비하하지 않습니다.',
    '- 의학적 진단이나 처방을 하지 않습니다. 시술(P 코드)은 전문의 상담이 필요하다는 전제로만 언급합니다.',
    '- 추천 관리법은 아래 목록의 코드만 사용합니다. 목록에 없는 코드를 만들지 않습니다.',
    '',
    '출력 형식: 다른 말 없이 아래 JSON 객체 하나만 출력합니다. 모든 텍스트는 한국어로 씁니다.',
    '{',
    '  "summary": "전반적인 개선 방향 요약 (1000자 이내)",',
    `  "improvements": [ 1~${MAX_IMPROVEMENTS}개 {`,
    '    "area": "개선 부위 (예: 피부, 얼굴 윤곽, 헤어, 스타일, 체형, 미소; 40자 이내)",',
    '    "description": "이미지에서 달라진 점과 개선 방향 (500자 이내)",',
    `    "recommendations": ["목록의 코드", … 최대 ${MAX_RECOMMENDATIONS_PER_AREA}개, 중요한 순서대로]`,
    '  } ],',
    '  "timeline": "예상 기간 (예: 8-12주 예상)",',
    '  "estimated_cost": "예상 비용 범위 (예: 300,000 - 800,000원), 추천한 관리법의 비용을 근거로"',
    '}',
    '',
    `허용되는 코드: ${allowedCodes.join(', ')}`,
    '',
    '관리법 목록 (코드 | 이름 | 설명 | 일반적인 비용 | 기간):',
    catalogue,
  ].join('\n');

  const user = [
    `첨부 이미지 중 첫 번째는 원본 사진이고, 그 다음 ${generated}장은 아래 프롬프트로 생성한 개선 이미지입니다.`,
    '',
    '이미지 생성 프롬프트:',
    '"""',
    input.imagePrompt.trim(),
    '"""',
    '',
    '원본과 생성 이미지를 비교해 리포트 JSON을 작성해 주세요.',
  ].join('\n');

  return { messages: [{ role: 'system', content: system }, { role: 'user', content: [{ type: 'text', text: user }] }], allowedCodes };
}
