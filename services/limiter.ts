// The rate-limit port services take as a dependency (notification push limits, for one). The
// implementation, in memory or in Redis, is built in server/rateLimits.ts.
export type Limiter = {
  // Resolves with null when allowed, or the seconds until the next allowed attempt. It never waits
  // on an unreachable Redis: a shared limiter then counts per node, at once, until Redis is back.
  consume: (key: string, points?: number) => Promise<number | null>;
};
