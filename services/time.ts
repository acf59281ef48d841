// Instants are stored as timestamptz and rendered as ISO 8601 with the configured zone's offset
// (2024-01-01T12:00:00+09:00), so clients see the local wall time and the exact instant at once.

export type TimeFormatter = { zone: string; format: (date: Date) => string; formatNullable: (date: Date | null | undefined) => string | null };

export function createTimeFormatter(zone: string): TimeFormatter {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
    timeZoneName: 'longOffset',
  });
  const format = (date: Date): string => {
    const p: Record<string, string> = {};
    for (const { type, value } of parts.formatToParts(date)) p[type] = value;
    // longOffset renders "GMT+09:00", or plain "GMT" for UTC itself.
    const offset = p.timeZoneName === 'GMT' ? '+00:00' : p.timeZoneName.slice(3);
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${offset}`;
  };
  return { zone, format, formatNullable: (d) => (d ? format(d) : null) };
}
