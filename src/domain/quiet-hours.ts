// Quiet hours in the user's own time zone: local wall-clock times (HH:MM), correct across
// daylight-saving changes (the zone's offset is looked up for the very instant, never assumed).
// Pure: no clock, no database.

export interface QuietHours {
  enabled: boolean;
  /** Local HH:MM; a start after the end spans midnight. */
  start: string;
  end: string;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

export const isClockTime = (value: string) => HHMM.test(value);

/** Minutes since local midnight of an HH:MM. */
function minutesOf(value: string): number {
  const match = HHMM.exec(value);
  if (!match) throw new Error(`not an HH:MM time: ${value}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/** Whether the runtime knows the IANA zone. */
export function isTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local calendar date and time of an instant in a zone. */
function localParts(at: Date, zone: string) {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, Number(p.value)]));
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** The zone's offset from UTC (ms) at an instant. */
function offsetAt(at: Date, zone: string): number {
  const p = localParts(at, zone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

/**
 * The instant of a local wall-clock time on a local date. A time skipped by a spring-forward
 * change (02:30 on that night) is taken as the same time of the offset before the change, which
 * lands just after the gap.
 */
export function instantOf(year: number, month: number, day: number, minutes: number, zone: string): Date {
  const wall = Date.UTC(year, month - 1, day, Math.floor(minutes / 60), minutes % 60);
  const first = wall - offsetAt(new Date(wall), zone);
  const second = wall - offsetAt(new Date(first), zone);
  const local = localParts(new Date(second), zone);
  if (local.hour * 60 + local.minute === minutes) return new Date(second);
  // The wall time does not exist that day (the clocks skipped it): the later reading is past the gap.
  return new Date(Math.max(first, second));
}

/**
 * When the quiet hours that hold `now` end (the next local `end` time), or null when `now` is
 * not in quiet hours (or they are off, or start equals end: an empty window).
 */
export function quietHoursEnd(quiet: QuietHours, zone: string, now: Date): Date | null {
  if (!quiet.enabled) return null;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return null;
  const local = localParts(now, zone);
  const minute = local.hour * 60 + local.minute;
  const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  if (!inside) return null;
  // The end is today when it is still ahead on the local clock, else tomorrow (a window over midnight, before it).
  const daysAhead = minute < end ? 0 : 1;
  const date = new Date(Date.UTC(local.year, local.month - 1, local.day + daysAhead));
  return instantOf(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), end, zone);
}
