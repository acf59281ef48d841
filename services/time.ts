// Instants are stored as timestamptz and rendered as ISO 8601 with the configured zone's offset
// (2024-01-01T12:00:00+09:00), so clients see the local wall time and the exact instant at once.
//
// Intl's formatToParts is slow enough to show in request profiles, so only the zone's offset comes
// from Intl, cached per 15-minute bucket (every zone's transitions fall on a quarter hour); the
// rest is arithmetic on the shifted instant.

export type TimeFormatter = { zone: string; format: (date: Date) => string; formatNullable: (date: Date | null | undefined) => string | null };

const BUCKET_MS = 15 * 60 * 1000;
const MAX_CACHED_BUCKETS = 10_000;

export function createTimeFormatter(zone: string): TimeFormatter {
  const offsetFormat = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  const offsets = new Map<number, { minutes: number; text: string }>();

  const offsetAt = (ms: number) => {
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

  const format = (date: Date): string => {
    const ms = date.getTime();
    const offset = offsetAt(ms);
    return new Date(ms + offset.minutes * 60_000).toISOString().slice(0, 19) + offset.text;
  };
  return { zone, format, formatNullable: (d) => (d ? format(d) : null) };
}

// The one source of "now" for decisions (quotas, expiries, streaks, rankings); tests move it.
export type Clock = { now: () => Date };
export const systemClock: Clock = { now: () => new Date() };
