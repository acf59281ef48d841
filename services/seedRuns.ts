// Bookkeeping for data the server loads on first start: whether a named seed never ran, was
// started and cut short, or completed (the seed_runs table).
import type { Em } from './transaction.ts';

export type SeedState = 'never' | 'started' | 'completed';

export type SeedRuns = {
  state: (name: string) => Promise<SeedState>;
  markStarted: (name: string) => Promise<void>;
  markCompleted: (name: string) => Promise<void>;
};

export function createSeedRuns(em: Em): SeedRuns {
  return {
    state: async (name) => {
      const [row] = await em.fork().execute<{ completed_at: Date | null }[]>('select completed_at from seed_runs where name = ?', [name]);
      if (!row) return 'never';
      return row.completed_at ? 'completed' : 'started';
    },
    markStarted: async (name) => {
      await em.fork().execute('insert into seed_runs (name) values (?) on conflict (name) do nothing', [name]);
    },
    markCompleted: async (name) => {
      await em.fork().execute('update seed_runs set completed_at = now() where name = ? and completed_at is null', [name]);
    },
  };
}
