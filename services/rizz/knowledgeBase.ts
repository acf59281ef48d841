// The care methods a Find My Rizz report may recommend, by code. The report model is shown this list
// and may only cite its codes (report.ts drops any other); the codes are stable ids, stored with each
// job's recommendations, so a code is never reused for a different method.
//
// Code families: SC skin care, P procedures (clinic treatments), H hair, ST styling, F fitness,
// D dental/smile. Wording is informational, never medical advice: procedures point to a consultation,
// and costs and durations are typical ranges in Korea, not quotes.
import { z } from 'zod';

export const RIZZ_CATEGORIES = ['skin_care', 'procedure', 'hair', 'styling', 'fitness', 'dental'] as const;

// Which code prefix each category owns: a code's family always says what kind of method it is.
export const RIZZ_CODE_PREFIX: Record<(typeof RIZZ_CATEGORIES)[number], string> = {
  skin_care: 'SC', procedure: 'P', hair: 'H', styling: 'ST', fitness: 'F', dental: 'D',
};

export const rizzCodeSchema = z.string().regex(/^(SC|P|H|ST|F|D)\d{3}$/, 'must be a care method code such as SC003');

const range = (max: number) => z.object({ min: z.number().int().min(0).max(max), max: z.number().int().min(0).max(max) })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max' });

export const careMethodSchema = z.object({
  code: rizzCodeSchema,
  category: z.enum(RIZZ_CATEGORIES),
  title: z.string().min(1).max(60),
  description: z.string().min(1).max(300),
  typicalCostKrw: range(10_000_000),
  durationWeeks: range(104),
}).refine((m) => m.code.replace(/\d+$/, '') === RIZZ_CODE_PREFIX[m.category], { message: 'code prefix does not match the category', path: ['code'] });

export const knowledgeBaseSchema = z.array(careMethodSchema).min(1).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((m, i) => {
    if (seen.has(m.code)) ctx.addIssue({ code: 'custom', message: `duplicate code ${m.code}`, path: [i, 'code'] });
    seen.add(m.code);
  });
});

export type CareMethod = z.infer<typeof careMethodSchema>;
export type RizzCategory = CareMethod['category'];

const method = (code: string, category: RizzCategory, title: string, description: string, cost: [number, number], weeks: [number, number]): CareMethod => ({
  code, category, title, description, typicalCostKrw: { min: cost[0], max: cost[1] }, durationWeeks: { min: weeks[0], max: weeks[1] },
});

// Parsed at load: a typo here (a duplicate code, a reversed range) fails at start, not in a report.
export const RIZZ_KNOWLEDGE_BASE: readonly CareMethod[] = Object.freeze(knowledgeBaseSchema.parse([
  // Skin care (home routine)
  method('SC001', 'skin_care', '기본 세안·보습 루틴', '약산성 클렌저로 하루 두 번 세안하고 피부 타입에 맞는 보습제를 꾸준히 바르는 기본 루틴입니다.', [20_000, 60_000], [2, 4]),
  method('SC002', 'skin_care', '매일 자외선 차단', 'SPF30 이상 자외선 차단제를 매일 아침 바르고 야외 활동 중 덧바르면 색소 침착과 피부 노화를 늦추는 데 도움이 됩니다.', [15_000, 40_000], [4, 12]),
  method('SC003', 'skin_care', '피부톤 균일화 케어', '비타민C·나이아신아마이드 등 톤 개선 성분의 세럼을 꾸준히 사용해 칙칙함과 얼룩진 톤을 완화하는 관리입니다.', [30_000, 80_000], [6, 12]),
  method('SC004', 'skin_care', '각질·모공 관리', '저자극 각질 케어 제품을 주 1~2회 사용해 피부 결을 매끄럽게 하고 모공이 덜 도드라지게 관리합니다.', [20_000, 50_000], [4, 8]),
  method('SC005', 'skin_care', '얼굴 붓기 마사지', '괄사나 손을 이용한 가벼운 림프 순환 마사지로 아침 붓기를 줄여 얼굴선을 더 또렷하게 보이게 합니다.', [10_000, 40_000], [4, 8]),
  method('SC006', 'skin_care', '트러블 진정 케어', '순한 진정 성분 위주로 제품 수를 줄이고 손으로 만지는 습관을 줄여 트러블과 붉은기를 가라앉히는 관리입니다. 심한 경우 피부과 상담을 권합니다.', [20_000, 60_000], [4, 8]),
  method('SC007', 'skin_care', '붓기 줄이는 생활 습관', '싱겁게 먹고 물을 충분히 마시며 수면 시간을 지키는 습관으로 얼굴 붓기를 줄이고 턱선을 정돈해 보이게 합니다.', [0, 30_000], [2, 6]),
  method('SC008', 'skin_care', '눈가·입술 보습', '아이크림과 립밤으로 건조하기 쉬운 눈가와 입술을 보습해 생기 있고 정돈된 인상을 줍니다.', [15_000, 50_000], [2, 6]),

  // Procedures (clinic treatments: always after a professional consultation)
  method('P001', 'procedure', '피부과 스케일링', '피부과나 에스테틱에서 각질과 피지를 정리하는 관리로, 피부 결 개선에 도움이 될 수 있습니다. 전문가 상담 후 결정하세요.', [50_000, 150_000], [2, 8]),
  method('P002', 'procedure', '여드름 흉터 관리 시술', '프락셔널 레이저 등 흉터 개선 시술로 여러 차례에 걸쳐 진행됩니다. 피부 상태에 따라 적합 여부가 달라 전문의 상담이 필요합니다.', [300_000, 1_500_000], [12, 24]),
  method('P003', 'procedure', '수분·재생 주사 관리', '피부 속 수분과 탄력 개선을 목표로 하는 주사 관리입니다. 효과와 부작용 가능성을 전문의와 충분히 상담한 뒤 결정하세요.', [200_000, 800_000], [4, 12]),
  method('P004', 'procedure', '리프팅 시술', '초음파·고주파 장비로 처진 피부의 탄력을 관리하는 비수술 시술입니다. 개인차가 커서 전문의 상담이 필요합니다.', [300_000, 2_000_000], [4, 12]),
  method('P005', 'procedure', '제모 레이저', '수염 등 원치 않는 털을 레이저로 줄이는 시술로, 면도 자극과 푸른 수염 자국을 줄이는 데 도움이 될 수 있습니다.', [100_000, 600_000], [12, 40]),
  method('P006', 'procedure', '윤곽 보톡스 상담', '사각턱 근육 등을 줄여 얼굴선을 정리하는 시술로, 효과가 일시적이며 반드시 전문의 상담 후 결정해야 합니다.', [50_000, 300_000], [4, 12]),
  method('P007', 'procedure', '레이저 토닝', '색소와 불균일한 피부톤을 개선하기 위해 여러 회차로 진행하는 레이저 관리입니다. 피부 상태에 맞는지 전문의와 상담하세요.', [200_000, 800_000], [8, 12]),

  // Hair
  method('H001', 'hair', '얼굴형에 맞는 헤어컷', '얼굴형과 이마·광대 비율을 고려한 커트로 인상을 크게 바꿀 수 있어, 스타일 상담이 가능한 미용실을 권합니다.', [20_000, 60_000], [1, 2]),
  method('H002', 'hair', '볼륨·다운펌', '정수리 볼륨을 살리거나 옆머리 뜨는 것을 눌러 두상과 얼굴형을 보완하는 펌입니다.', [50_000, 200_000], [1, 2]),
  method('H003', 'hair', '두피·모발 관리', '두피 타입에 맞는 샴푸와 충분한 건조, 주기적인 두피 관리로 건강한 모발과 볼륨을 유지합니다.', [30_000, 150_000], [8, 16]),
  method('H004', 'hair', '눈썹 정리', '눈썹 모양을 얼굴형에 맞게 다듬어 또렷하고 정돈된 인상을 만듭니다.', [10_000, 50_000], [1, 4]),

  // Styling
  method('ST001', 'styling', '퍼스널 컬러 진단', '피부톤에 어울리는 색을 찾아 옷과 메이크업 색 선택에 활용하면 얼굴이 한층 밝아 보입니다.', [50_000, 150_000], [1, 2]),
  method('ST002', 'styling', '체형에 맞는 코디', '어깨선·기장·핏을 체형에 맞춰 고르면 비율이 좋아 보이고 전체 인상이 깔끔해집니다.', [100_000, 500_000], [2, 6]),
  method('ST003', 'styling', '안경·액세서리 선택', '얼굴형에 어울리는 안경테나 액세서리로 이목구비를 보완하고 분위기를 더합니다.', [50_000, 300_000], [1, 2]),
  method('ST004', 'styling', '베이스 메이크업', '톤업 선크림이나 가벼운 베이스로 피부 결과 톤을 자연스럽게 정돈하는 방법입니다.', [30_000, 100_000], [1, 4]),

  // Fitness
  method('F001', 'fitness', '체지방 관리 유산소 운동', '주 3~5회 30분 이상의 유산소 운동과 식단 조절로 체지방을 줄이면 얼굴선도 함께 정리되어 보입니다.', [0, 300_000], [8, 16]),
  method('F002', 'fitness', '근력 운동', '주 2~3회 상체와 하체 근력 운동으로 어깨와 자세 라인을 다듬어 전체 실루엣을 개선합니다.', [0, 600_000], [8, 24]),
  method('F003', 'fitness', '자세 교정 스트레칭', '거북목과 굽은 어깨를 풀어 주는 스트레칭으로 목선과 턱선이 더 또렷하게 보이도록 돕습니다.', [0, 200_000], [4, 12]),
  method('F004', 'fitness', '수면·식습관 개선', '규칙적인 수면과 균형 잡힌 식사는 피부 컨디션과 붓기, 체중 관리 모두의 기본이 됩니다.', [0, 100_000], [4, 8]),

  // Dental / smile
  method('D001', 'dental', '치아 미백', '치과 미백이나 자가 미백으로 치아 색을 밝혀 웃는 인상을 환하게 합니다. 치아 상태에 맞는 방법은 치과에서 상담하세요.', [100_000, 500_000], [2, 6]),
  method('D002', 'dental', '스케일링·구강 관리', '정기적인 스케일링과 올바른 칫솔질로 치석과 착색을 줄여 깨끗한 미소를 유지합니다.', [15_000, 60_000], [1, 2]),
  method('D003', 'dental', '미소 연습', '거울을 보며 자연스러운 미소와 표정을 연습하면 사진 속 인상이 한결 편안하고 자신감 있어 보입니다.', [0, 0], [2, 4]),
]));

export function findCareMethod(knowledgeBase: readonly CareMethod[], code: string): CareMethod | undefined {
  return knowledgeBase.find((m) => m.code === code);
}
