import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000306_walk_social extends Migration {
  override up(): void {
    // Blocking: the blocked user sees nothing of the blocker (profile, walks, lists, feed) and cannot
    // follow, like, comment on or invite them. Follows (walk_follows) came with the rankings.
    this.addSql(`create table walk_blocks (
      blocker_id uuid not null references users(id) on delete cascade,
      blocked_id uuid not null references users(id) on delete cascade,
      created_at timestamptz not null default now(),
      primary key (blocker_id, blocked_id),
      check (blocker_id <> blocked_id)
    )`);
    this.addSql(`create index walk_blocks_blocked_index on walk_blocks (blocked_id)`);
    this.addSql(`create index walk_follows_follower_created_index on walk_follows (follower_id, created_at desc, followee_id)`);
    this.addSql(`create index walk_follows_followee_created_index on walk_follows (followee_id, created_at desc, follower_id)`);
    // The feed's order, kept on the walk: its start in hours since the epoch, plus 6 hours per e-fold
    // of engagement (likes, comments counting double) and 2 hours per e-fold of distance in km — a walk
    // with 10 likes (ln 11 ≈ 2.4) stands ~14 hours ahead of an unliked one of the same time, a 10 km
    // walk ~4 hours ahead of a 1 km one. It only moves when a like or comment does, so a cursor over
    // (feed_score, id) pages a stable order. A trigger keeps it, so every writer of walks (the walk
    // service, the social counts, tests and benches inserting rows) gets it right without knowing it.
    this.addSql(`alter table walks add column like_count integer not null default 0, add column comment_count integer not null default 0, add column feed_score double precision`);
    this.addSql(`create function walks_feed_score() returns trigger language plpgsql as $$
      begin
        new.feed_score := extract(epoch from new.started_at) / 3600.0 + 6 * ln(1 + new.like_count + 2 * new.comment_count) + 2 * ln(1 + greatest(new.distance_m, 0) / 1000.0);
        return new;
      end $$`);
    this.addSql(`create trigger walks_feed_score before insert or update of started_at, distance_m, like_count, comment_count on walks
      for each row execute function walks_feed_score()`);
    this.addSql(`update walks set like_count = like_count`);
    this.addSql(`alter table walks alter column feed_score set not null`);
    // Two orders for the feed's two plans (services/walk/social.ts feed()).
    this.addSql(`create index walks_feed_index on walks (feed_score desc, id desc) include (user_id) where trusted`);
    this.addSql(`create index walks_feed_user_index on walks (user_id, feed_score desc, id desc) where trusted`);
    // Friend recommendations, recomputed every 12 hours (mutual follows, region, usual walk times).
    this.addSql(`create table walk_friend_recommendations (
      user_id uuid not null references users(id) on delete cascade,
      candidate_id uuid not null references users(id) on delete cascade,
      score double precision not null,
      reasons jsonb not null,
      computed_at timestamptz not null,
      primary key (user_id, candidate_id)
    )`);
    this.addSql(`create index walk_friend_recommendations_order_index on walk_friend_recommendations (user_id, score desc, candidate_id)`);
  }
}
