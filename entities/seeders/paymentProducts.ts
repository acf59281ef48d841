// Reference data: the products each module sells, at our prices (seeds 002 and 004).
// Upserted at every start so that a price change here reaches every environment.
export const paymentProducts = [
  { id: 'rizz.report', module: 'rizz', name: 'AI 프로필 분석 (프로필 사진 3장 + 리포트)', amount: 9900, grants: { portraits: 3, report: true }, sortOrder: 0 },
  { id: 'chat.points.starter', module: 'chat', name: '스타터 팩', amount: 1000, grants: { points: 100, bonusPoints: 0 }, sortOrder: 0 },
  { id: 'chat.points.basic', module: 'chat', name: '베이직 팩', amount: 4500, grants: { points: 500, bonusPoints: 50 }, sortOrder: 1 },
  { id: 'chat.points.premium', module: 'chat', name: '프리미엄 팩', amount: 8500, grants: { points: 1000, bonusPoints: 150 }, sortOrder: 2 },
  { id: 'chat.points.ultimate', module: 'chat', name: '얼티밋 팩', amount: 24000, grants: { points: 3000, bonusPoints: 600 }, sortOrder: 3 },
];
