/**
 * The moderation part of a room's settings page (owners and moderators): slow mode and read-only, muting
 * and banning by username, the current mutes and bans with unmute and unban, and the moderation log. Every
 * form posts to `/rooms/ID/settings/…`; the room decides each action (its rank rules), and a refusal comes
 * back to the page with its reason. All user text goes through JSX, which escapes it.
 */
import type { LogEntryView, ModerationView } from "../realtime/room/client";
import { formatPostTime } from "../shared/time";

/** The slow modes the form offers, in seconds (any value from the API is shown too). */
export const SLOW_MODE_CHOICES = [0, 10, 30, 60, 300, 900, 3600, 21_600];

/** How long a mute from the settings page lasts, in seconds. */
export const MUTE_DURATION_CHOICES = [60, 3600, 86_400, 7 * 86_400, 28 * 86_400];

export interface ModerationSettingsProps {
  base: string;
  moderation: ModerationView;
  /** The newest entries of the moderation log. */
  log: LogEntryView[];
  /** What the mute or ban form sent, shown again when it was refused. */
  muteUsername?: string | undefined;
  banUsername?: string | undefined;
}

export function ModerationSettings({ base, moderation, log, muteUsername, banUsername }: ModerationSettingsProps) {
  const slowChoices = SLOW_MODE_CHOICES.includes(moderation.slow_mode_seconds)
    ? SLOW_MODE_CHOICES
    : [...SLOW_MODE_CHOICES, moderation.slow_mode_seconds].sort((a, b) => a - b);
  const mutes = moderation.mutes ?? [];
  const bans = moderation.bans ?? [];
  return (
    <>
      <section class="card settings" aria-labelledby="moderation_heading">
        <h2 id="moderation_heading">Moderation</h2>
        <form method="post" action={`${base}/moderation`} class="inline-form" id="modes_form">
          <div class="input-row">
            <label for="slow_mode_seconds">Slow mode</label>
            <select id="slow_mode_seconds" name="slow_mode_seconds">
              {slowChoices.map((seconds) => (
                <option value={String(seconds)} selected={seconds === moderation.slow_mode_seconds}>
                  {seconds === 0 ? "Off" : `One post every ${duration(seconds)}`}
                </option>
              ))}
            </select>
            <label class="toggle">
              <input type="checkbox" id="read_only" name="read_only" value="on" checked={moderation.read_only} />
              Read-only: only moderators post
            </label>
            <button type="submit" class="button">
              Save
            </button>
          </div>
          <p class="hint">The owner and moderators are exempt from both.</p>
        </form>
        <form method="post" action={`${base}/mutes`} class="inline-form" novalidate>
          <h3>Mute someone</h3>
          <div class="input-row">
            <label for="mute_username" class="visually-hidden">
              Username
            </label>
            <span class="hash" aria-hidden="true">
              @
            </span>
            <input
              id="mute_username"
              class="grow"
              name="username"
              value={muteUsername}
              placeholder="username"
              required
            />
            <label for="mute_seconds" class="visually-hidden">
              For how long
            </label>
            <select id="mute_seconds" name="seconds">
              {MUTE_DURATION_CHOICES.map((seconds) => (
                <option value={String(seconds)} selected={seconds === 3600}>
                  for {duration(seconds)}
                </option>
              ))}
            </select>
            <button type="submit" class="button">
              Mute
            </button>
          </div>
          <p class="hint">They still read, but cannot post or type until it ends.</p>
        </form>
        <form method="post" action={`${base}/bans`} class="inline-form" novalidate>
          <h3>Ban someone</h3>
          <div class="input-row">
            <label for="ban_username" class="visually-hidden">
              Username
            </label>
            <span class="hash" aria-hidden="true">
              @
            </span>
            <input id="ban_username" class="grow" name="username" value={banUsername} placeholder="username" required />
            <label class="toggle">
              <input type="checkbox" name="delete_recent_posts" value="on" />
              and their posts of the last 24 h
            </label>
            <button type="submit" class="button danger">
              Ban
            </button>
          </div>
          <p class="hint">
            They leave at once, on every device, and cannot come back, read or be invited until unbanned.
          </p>
        </form>
      </section>

      <section class="card settings" aria-labelledby="mutes_heading">
        <h2 id="mutes_heading">Muted ({mutes.length})</h2>
        {mutes.length === 0 ? (
          <p class="empty">Nobody is muted.</p>
        ) : (
          <table class="members" id="mutes">
            <tbody>
              {mutes.map((mute) => (
                <tr data-muted={mute.user.username}>
                  <td>
                    <span class="member-name">@{mute.user.username}</span>
                  </td>
                  <td>
                    until <time datetime={mute.until}>{formatPostTime(mute.until, new Date(), "UTC")} UTC</time>, by @
                    {mute.by.username}
                  </td>
                  <td class="actions">
                    <form method="post" action={`${base}/mutes/remove`}>
                      <input type="hidden" name="username" value={mute.user.username} />
                      <button type="submit" class="button quiet" aria-label={`Unmute @${mute.user.username}`}>
                        Unmute
                      </button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h2 id="bans_heading">Banned ({bans.length})</h2>
        {bans.length === 0 ? (
          <p class="empty">Nobody is banned.</p>
        ) : (
          <table class="members" id="bans">
            <tbody>
              {bans.map((ban) => (
                <tr data-banned={ban.user.username}>
                  <td>
                    <span class="member-name">@{ban.user.username}</span>
                  </td>
                  <td>
                    since <time datetime={ban.at}>{formatPostTime(ban.at, new Date(), "UTC")} UTC</time>, by @
                    {ban.by.username}
                  </td>
                  <td class="actions">
                    <form method="post" action={`${base}/bans/remove`}>
                      <input type="hidden" name="username" value={ban.user.username} />
                      <button type="submit" class="button quiet" aria-label={`Unban @${ban.user.username}`}>
                        Unban
                      </button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section class="card settings" aria-labelledby="log_heading">
        <h2 id="log_heading">Moderation log</h2>
        {log.length === 0 ? (
          <p class="empty">Nothing has been moderated here yet.</p>
        ) : (
          <table class="log" id="moderation_log">
            <tbody>
              {log.map((entry) => (
                <tr data-action={entry.action}>
                  <td>
                    <time datetime={entry.at}>{formatPostTime(entry.at, new Date(), "UTC")} UTC</time>
                  </td>
                  <td>
                    @{entry.actor.username} {describe(entry)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

/** What an entry of the log says was done, after who did it. */
export function describe(entry: LogEntryView): string {
  const whom = entry.target ? `@${entry.target.username}` : "";
  const { details } = entry;
  switch (entry.action) {
    case "mute":
      return `muted ${whom} for ${duration(Number(details.seconds))}`;
    case "unmute":
      return `unmuted ${whom}`;
    case "ban":
      return details.delete_recent_posts ? `banned ${whom} (and their posts of the last 24 h)` : `banned ${whom}`;
    case "unban":
      return `unbanned ${whom}`;
    case "slow_mode":
      return Number(details.seconds) === 0
        ? "turned slow mode off"
        : `set slow mode to one post every ${duration(Number(details.seconds))}`;
    case "read_only":
      return details.on ? "made the room read-only" : "let everyone post again";
  }
}

/** "10 s", "5 min", "1 h", "1 day", "28 days": the largest whole unit. */
export function duration(seconds: number): string {
  for (const [size, unit] of [
    [86_400, "day"],
    [3600, "h"],
    [60, "min"],
  ] as const) {
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size;
      return unit === "day" ? `${count} ${count === 1 ? "day" : "days"}` : `${count} ${unit}`;
    }
  }
  return `${seconds} s`;
}
