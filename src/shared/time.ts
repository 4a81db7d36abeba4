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

/** "just now", "5 min ago", "3 h ago", "2 d ago": the same in every time zone, so the server can render it. */
export function formatAge(date: Date, now: Date = new Date()): string {
  const minutes = Math.floor((now.getTime() - date.getTime()) / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}
