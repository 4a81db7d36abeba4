/**
 * How a post's time reads: "14:02" today, "Nov 28, 14:02" before. The server renders it in UTC; the
 * browser re-renders it in the reader's own time zone (timeZone undefined).
 */
export function formatPostTime(iso: string, now: Date = new Date(), timeZone?: string): string {
  const date = new Date(iso);
  const { time, day } = formattersFor(timeZone);
  const sameDay = day.format(date) === day.format(now) && date.getFullYear() === now.getFullYear();
  return sameDay ? time.format(date) : `${day.format(date)}, ${time.format(date)}`;
}

interface Formatters {
  time: Intl.DateTimeFormat;
  day: Intl.DateTimeFormat;
}

/** Building a formatter costs far more than using one, and a catch-up renders hundreds of posts. */
const formatters = new Map<string | undefined, Formatters>();

function formattersFor(timeZone: string | undefined): Formatters {
  let found = formatters.get(timeZone);
  if (!found) {
    found = {
      time: new Intl.DateTimeFormat("en", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone }),
      day: new Intl.DateTimeFormat("en", { month: "short", day: "numeric", timeZone }),
    };
    formatters.set(timeZone, found);
  }
  return found;
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
