/**
 * How a post's time reads: "14:02" today, "Nov 28, 14:02" before. The server renders it in UTC; the
 * browser re-renders it in the reader's own time zone (timeZone undefined).
 */
export function formatPostTime(iso: string, now: Date = new Date(), timeZone?: string): string {
  const date = new Date(iso);
  const time = new Intl.DateTimeFormat("en", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone });
  const day = new Intl.DateTimeFormat("en", { month: "short", day: "numeric", timeZone });
  const sameDay = day.format(date) === day.format(now) && date.getFullYear() === now.getFullYear();
  return sameDay ? time.format(date) : `${day.format(date)}, ${time.format(date)}`;
}
