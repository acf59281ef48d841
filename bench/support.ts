// What the benches share: the API node's environment, registering users, bounded concurrency and
// percentiles.

// Built from scratch, not from process.env, so a stray REDIS_URL or LOG_LEVEL cannot change what is
// measured; only DATABASE_URL is taken over, to bench against a real server when given. The rate
// limiters still run on every request but never refuse one.
export function benchApiEnv(extra: Record<string, string> = {}): Record<string, string> {
  const database: Record<string, string> = process.env.DATABASE_URL
    ? { DATABASE_URL: process.env.DATABASE_URL }
    : { EMBEDDED_PG_DIR: '.data/bench-postgres', EMBEDDED_PG_PORT: '54339' };
  return {
    ...database,
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_IP_PER_MINUTE: '100000000',
    RATE_LIMIT_USER_PER_MINUTE: '100000000',
    RATE_LIMIT_AUTH_PER_MINUTE: '100000000',
    ...extra,
  };
}

export type BenchUser = { id: string; accessToken: string };

// `name` must be unique in the database (it becomes the username and the email's local part).
export async function registerBenchUser(baseUrl: string, name: string): Promise<BenchUser> {
  const res = await fetch(`${baseUrl}/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: `${name}@example.com`, password: 'correct horse 42', username: name }),
  });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { user: { id: string }; accessToken: string };
  return { id: body.user.id, accessToken: body.accessToken };
}

// fn(0..count-1) with at most `concurrency` running at once, results in order.
export async function mapLimited<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return results;
}

// Nearest-rank percentile of an ascending array.
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
