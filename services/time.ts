// Time in one place: the clock every decision reads, ISO 8601 rendering with a zone's offset, the
// zone calendar (day, week from Monday, month, local date, wall-clock minutes, quiet hours), and the
// dates and instants clients may send.
//
// Instants are stored as timestamptz and rendered as ISO 8601 with the configured zone's offset
// (2024-01-01T12:00:00+09:00), so clients see the local wall time and the exact instant at once.
//
// Intl's formatToParts is slow enough to show in request profiles, so only a zone's offset comes
// from Intl, cached per 15-minute bucket (every zone's transitions fall on a quarter hour); the
// rest — rendering and calendar boundaries alike — is arithmetic on the shifted instant.

import { z } from 'zod';

// ---- The clock ----

// The one source of "now" for decisions (quotas, expiries, streaks, rankings); tests move it. A
// decision takes its instant from here and hands it to SQL as a parameter, never mixing in now().
export type Clock = { now: () => Date };
export const systemClock: Clock = { now: () => new Date() };

// A clock that stands still until a test moves it.
export type TestClock = Clock & { set: (at: Date | string | number) => Date; advance: (ms: number) => Date };

export function createTestClock(start: Date | string | number = Date.now()): TestClock {
  let current = toMs(start);
  return {
    now: () => new Date(current),
    set: (at) => new Date((current = toMs(at))),
    advance: (ms) => new Date((current += ms)),
  };
}

function toMs(at: Date | string | number): number {
  const ms = new Date(at).getTime();
  if (Number.isNaN(ms)) throw new RangeError(`not an instant: ${String(at)}`);
  return ms;
}

// ---- Zone offsets ----

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const BUCKET_MS = 15 * MINUTE_MS;
const MAX_CACHED_BUCKETS = 10_000;

type Offset = { minutes: number; text: string };

const offsetTables = new Map<string, (ms: number) => Offset>();

// The zone's UTC offset at an instant. Throws a RangeError for a name that is not an IANA zone.
function offsetsOf(zone: string): (ms: number) => Offset {
  let table = offsetTables.get(zone);
  if (table) return table;
  const offsetFormat = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  const offsets = new Map<number, Offset>();
  table = (ms: number) => {
    const bucket = Math.floor(ms / BUCKET_MS);
    let offset = offsets.get(bucket);
    if (!offset) {
      // longOffset renders "GMT+09:00", or plain "GMT" for UTC itself.
      const name = offsetFormat.formatToParts(new Date(bucket * BUCKET_MS)).find((p) => p.type === 'timeZoneName')!.value;
      const text = name === 'GMT' ? '+00:00' : name.slice(3);
      const sign = text.startsWith('-') ? -1 : 1;
      const minutes = sign * (Number(text.slice(1, 3)) * 60 + Number(text.slice(4, 6)));
      if (offsets.size >= MAX_CACHED_BUCKETS) offsets.clear();
      offsets.set(bucket, (offset = { minutes, text }));
    }
    return offset;
  };
  offsetTables.set(zone, table);
  return table;
}

// ---- Rendering ----

export type TimeFormatter = {
  zone: string;
  format: (date: Date) => string;
  formatNullable: (date: Date | null | undefined) => string | null;
};

export function createTimeFormatter(zone: string): TimeFormatter {
  const offsetAt = offsetsOf(zone);
  const format = (date: Date): string => {
    const ms = date.getTime();
    const offset = offsetAt(ms);
    return new Date(ms + offset.minutes * MINUTE_MS).toISOString().slice(0, 19) + offset.text;
  };
  return { zone, format, formatNullable: (d) => (d ? format(d) : null) };
}

// ---- The zone calendar ----

// [start, end): start is the first instant inside, end the first after (the next period's start).
export type Interval = { start: Date; end: Date };
export type CalendarPeriod = 'day' | 'week' | 'month';
// A wall-clock window, "HH:MM" (a Postgres time column may add ":SS"); it may wrap midnight (22:00-07:00).
export type QuietWindow = { start: string; end: string };

export type ZoneCalendar = {
  zone: string;
  // The local day, week (Monday 00:00 to the next Monday) or month (the 1st 00:00 to the next 1st) holding `at`.
  period: (kind: CalendarPeriod, at: Date) => Interval;
  day: (at: Date) => Interval;
  week: (at: Date) => Interval;
  month: (at: Date) => Interval;
  // The local calendar date of `at`, YYYY-MM-DD.
  localDate: (at: Date) => string;
  // Minutes since local midnight on the wall clock (0…1439).
  minutesOfDay: (at: Date) => number;
  // Whether `at` falls in the window on this zone's wall clock; start is inside, end is not.
  isQuietTime: (window: QuietWindow | null, at: Date) => boolean;
};

const calendars = new Map<string, ZoneCalendar>();

// The calendar of any IANA zone (cached per name). Throws a RangeError for an unknown name.
export function zoneCalendar(zone: string): ZoneCalendar {
  let calendar = calendars.get(zone);
  if (!calendar) calendars.set(zone, (calendar = createZoneCalendar(zone)));
  return calendar;
}

function createZoneCalendar(zone: string): ZoneCalendar {
  const offsetAt = offsetsOf(zone);
  // The wall clock at `at`, as a UTC instant whose UTC fields are the local ones.
  const wall = (at: Date) => new Date(at.getTime() + offsetAt(at.getTime()).minutes * MINUTE_MS);

  // The first instant whose wall clock reads `wallMs` (local midnight, here). In a fall-back
  // overlap that is the earlier of the two; a time skipped by a spring-forward gap is read on the
  // offset before it, so a skipped midnight (America/Santiago) gives the transition itself, the
  // first instant of that local day.
  const instantOf = (wallMs: number): Date => {
    const before = offsetAt(wallMs - DAY_MS).minutes * MINUTE_MS;
    const after = offsetAt(wallMs + DAY_MS).minutes * MINUTE_MS;
    const candidates = [wallMs - before, wallMs - after].filter((t) => offsetAt(t).minutes * MINUTE_MS === wallMs - t);
    return new Date(candidates.length > 0 ? Math.min(...candidates) : wallMs - before);
  };

  const between = (fromWall: number, toWall: number): Interval => ({ start: instantOf(fromWall), end: instantOf(toWall) });

  const day = (at: Date): Interval => {
    const w = wall(at);
    const [y, m, d] = [w.getUTCFullYear(), w.getUTCMonth(), w.getUTCDate()];
    return between(Date.UTC(y, m, d), Date.UTC(y, m, d + 1));
  };
  const week = (at: Date): Interval => {
    const w = wall(at);
    const [y, m, d] = [w.getUTCFullYear(), w.getUTCMonth(), w.getUTCDate()];
    const monday = d - ((w.getUTCDay() + 6) % 7);
    return between(Date.UTC(y, m, monday), Date.UTC(y, m, monday + 7));
  };
  const month = (at: Date): Interval => {
    const w = wall(at);
    const [y, m] = [w.getUTCFullYear(), w.getUTCMonth()];
    return between(Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1));
  };
  const minutesOfDay = (at: Date): number => Math.floor((((wall(at).getTime() % DAY_MS) + DAY_MS) % DAY_MS) / MINUTE_MS);

  return {
    zone,
    period: (kind, at) => (kind === 'day' ? day(at) : kind === 'week' ? week(at) : month(at)),
    day,
    week,
    month,
    localDate: (at) => wall(at).toISOString().slice(0, 10),
    minutesOfDay,
    isQuietTime: (window, at) => {
      if (!window) return false;
      const start = hhmmToMinutes(window.start);
      const end = hhmmToMinutes(window.end);
      const current = minutesOfDay(at);
      return start < end ? current >= start && current < end : current >= start || current < end;
    },
  };
}

function hhmmToMinutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

// ---- Dates and instants from clients ----

// The range the API accepts a client's date or instant in (a report's days, a cursor's position):
// wider than any record this service holds, and narrow enough that neither date arithmetic nor
// Postgres meets a year it refuses. JavaScript dates reach years -271821 and 275760; Postgres has
// no year 0, stores no timestamp before 4713 BC, and a day string past 9999 is no longer YYYY-MM-DD.
export const CLIENT_DATE_RANGE = { min: '2000-01-01', max: '2099-12-31' } as const;
const CLIENT_MIN_MS = Date.parse(`${CLIENT_DATE_RANGE.min}T00:00:00Z`);
const CLIENT_MAX_MS = Date.parse(`${CLIENT_DATE_RANGE.max}T23:59:59.999Z`);
const RANGE_MESSAGE = `must be between ${CLIENT_DATE_RANGE.min} and ${CLIENT_DATE_RANGE.max}`;

// A calendar day, YYYY-MM-DD, that exists (no 2024-02-30) and lies in CLIENT_DATE_RANGE.
export const calendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date')
  .refine((d) => d >= CLIENT_DATE_RANGE.min && d <= CLIENT_DATE_RANGE.max, RANGE_MESSAGE)
  .meta({ example: '2026-11-01' });

// An ISO 8601 instant in CLIENT_DATE_RANGE, as a Date.
export const clientInstant = z.iso.datetime({ offset: true }).transform((text, ctx) => {
  const ms = Date.parse(text);
  if (ms >= CLIENT_MIN_MS && ms <= CLIENT_MAX_MS) return new Date(ms);
  ctx.addIssue({ code: 'custom', message: RANGE_MESSAGE });
  return z.NEVER;
});
