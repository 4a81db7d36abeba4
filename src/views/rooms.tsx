/**
 * How rooms are named and listed on every page: `#name` for a public room, a private room's title, and
 * `@partner` for a direct message; the viewer's rooms grouped into rooms and direct messages, each with the
 * viewer's role where it matters (owner, moderator: what they may do there) and their unread and mention
 * counts there.
 */
import type { RoomCounts } from "../db/read-states";
import type { ListedRoom } from "../db/rooms";
import type { Role, RoomView } from "../realtime/room/client";
import { countLabel } from "../shared/counts";

/** `#name`, a private room's title, or `@partner` for a direct message. */
export function headingOf(room: RoomView): string {
  if (room.kind === "public") return `#${room.name ?? room.id}`;
  if (room.kind === "dm") return `@${room.partner?.username ?? "…"}`;
  return room.title ?? "Private room";
}

/** The same name for a room as listed from D1 (the lists, search results, mentions). */
export function labelOf(
  room: Pick<ListedRoom, "id" | "kind" | "title"> & { partner: { username: string } | null },
): string {
  if (room.kind === "public") return `#${room.id}`;
  if (room.kind === "dm") return `@${room.partner?.username ?? "…"}`;
  return room.title ?? "Private room";
}

export function roomPath(id: string): string {
  return `/rooms/${id}`;
}

/** A role worth showing: owners and moderators (everyone in a room is at least a member). */
export function RoleBadge({ role }: { role: Role | null }) {
  if (role !== "owner" && role !== "moderator") return null;
  return <span class={`badge role-${role}`}>{role}</span>;
}

/**
 * A room's unread posts and mentions of the viewer, each hidden at 0 (and where the viewer has no read
 * position). Server-rendered from the page's one count query; the page's script finds them by `data-room`
 * and class (`unread-count`, `mention-count`) and updates them live: the text (`countLabel`), the `title`
 * (which says what the number counts) and `hidden`.
 */
export function CountBadges({ room, counts }: { room: string; counts: RoomCounts | undefined }) {
  const unread = counts?.unread ?? 0;
  const mentions = counts?.mentions ?? 0;
  const unreadLabel = `${countLabel(unread)} unread`;
  const mentionsLabel = `${countLabel(mentions)} ${mentions === 1 ? "mention" : "mentions"}`;
  return (
    <span class="counts">
      <span class="unread-count" data-room={room} title={unreadLabel} hidden={unread === 0}>
        {countLabel(unread)}
      </span>
      <span class="mention-count" data-room={room} title={mentionsLabel} hidden={mentions === 0}>
        {countLabel(mentions)}
      </span>
    </span>
  );
}

export interface YourRoomsProps {
  /** The viewer's rooms (the ones they are a member of), busiest first. */
  rooms: ListedRoom[];
  /** The room being shown, marked as the current page. */
  current?: string | undefined;
  /** Heading level for the two groups. */
  level?: "h2" | "h3";
  /** Show each room's kind and the viewer's role beside it (the home page; the sidebar is too narrow). */
  badges?: boolean;
  /** The viewer's unread and mention counts, by room (none: the room shows none). */
  counts?: ReadonlyMap<string, RoomCounts>;
}

/** The viewer's rooms in two groups: rooms (public ones they joined and private ones), then direct messages. */
export function YourRooms({ rooms, current, level = "h3", badges = true, counts = new Map() }: YourRoomsProps) {
  const Heading = level;
  const shared = rooms.filter((room) => room.kind !== "dm");
  const direct = rooms.filter((room) => room.kind === "dm");
  return (
    <>
      <Heading class="group-heading" id={`${level}_your_rooms_group`}>
        Rooms
      </Heading>
      {shared.length === 0 ? (
        <p class="empty small">None yet.</p>
      ) : (
        <ul class="room-links" id="your_rooms" aria-labelledby={`${level}_your_rooms_group`}>
          {shared.map((room) => (
            <RoomLink room={room} current={current} badges={badges} counts={counts.get(room.id)} />
          ))}
        </ul>
      )}
      <Heading class="group-heading" id={`${level}_your_dms_group`}>
        Direct messages
      </Heading>
      {direct.length === 0 ? (
        <p class="empty small">None yet.</p>
      ) : (
        <ul class="room-links" id="your_dms" aria-labelledby={`${level}_your_dms_group`}>
          {direct.map((room) => (
            <RoomLink room={room} current={current} badges={badges} counts={counts.get(room.id)} />
          ))}
        </ul>
      )}
    </>
  );
}

function RoomLink({
  room,
  current,
  badges,
  counts,
}: {
  room: ListedRoom;
  current?: string | undefined;
  badges: boolean;
  counts: RoomCounts | undefined;
}) {
  const here = room.id === current;
  return (
    <li class={here ? "current" : undefined} data-room={room.id}>
      <a href={roomPath(room.id)} aria-current={here ? "page" : undefined}>
        {labelOf(room)}
      </a>
      {badges && (
        <span class="badges">
          {room.kind === "private" && <span class="badge">private</span>}
          <RoleBadge role={room.kind === "dm" ? null : room.role} />
        </span>
      )}
      <CountBadges room={room.id} counts={counts} />
    </li>
  );
}
