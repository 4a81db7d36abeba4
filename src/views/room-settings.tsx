/**
 * A room's settings page, for its owner and moderators: the members and their roles, adding and removing
 * people, roles and handing the room over (owner), its title (owner), invite links, and moderation
 * (moderation-settings.tsx). Every form posts to `/rooms/ID/settings/…`; the room decides each action, and
 * a refusal comes back here with its reason.
 */
import type { Viewer } from "../http/env";
import type { InviteView, LogEntryView, MemberView, ModerationView, Role, RoomView } from "../realtime/room/client";
import { FormAlert } from "./form";
import { Layout } from "./layout";
import { ModerationSettings } from "./moderation-settings";
import { RoleBadge, roomPath } from "./rooms";

/** How long a new invite link lasts: the choices the form offers, in seconds. */
export const INVITE_EXPIRY_CHOICES: ReadonlyArray<{ seconds: number; label: string }> = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 24 * 3600, label: "1 day" },
  { seconds: 7 * 24 * 3600, label: "7 days" },
];

export const INVITE_DEFAULT_USES = 10;

export interface RoomSettingsProps {
  viewer: Viewer;
  room: RoomView;
  heading: string;
  members: MemberView[];
  /** The live invites (a private room's); undefined where the room has none to offer (public rooms). */
  invites?: InviteView[] | undefined;
  /** A refusal, with the reason the room gave. */
  alert?: string | undefined;
  /** What just went through. */
  notice?: string | undefined;
  /** A link just created: its URL carries the token, so it is shown this once and never again. */
  newInviteUrl?: string | undefined;
  /** Asked to hand the room over to this member: the confirming step. */
  handOverTo?: MemberView | undefined;
  /** What the add-a-person form sent, shown again when it was refused. */
  addUsername?: string | undefined;
  /** The title the rename form sent, shown again when it was refused. */
  titleValue?: string | undefined;
  /** The room's modes, mutes and bans, and the newest entries of its moderation log. */
  moderation?: ModerationView | undefined;
  log?: LogEntryView[] | undefined;
  /** What the mute or ban form sent, shown again when it was refused. */
  muteUsername?: string | undefined;
  banUsername?: string | undefined;
}

const RANK: Record<Role, number> = { member: 1, moderator: 2, owner: 3 };

export function RoomSettingsPage(props: RoomSettingsProps) {
  const { viewer, room, heading, members, invites, alert, notice, newInviteUrl, handOverTo } = props;
  const base = `${roomPath(room.id)}/settings`;
  const myRole = room.role ?? "member";
  const owner = myRole === "owner";
  const sorted = [...members].sort(
    (a, b) => RANK[b.role] - RANK[a.role] || a.username.localeCompare(b.username, "en", { sensitivity: "base" }),
  );
  return (
    <Layout title={`Settings · ${heading}`} viewer={viewer}>
      <section class="card settings" aria-labelledby="settings_heading">
        <p class="back">
          <a class="back-link" href={roomPath(room.id)}>
            ← Back to {heading}
          </a>
        </p>
        <h1 id="settings_heading">Settings of {heading}</h1>
        <p class="aside first">
          {room.kind === "public" ? "Public room" : "Private room"}. You are{" "}
          {myRole === "owner" ? "its owner" : `a ${myRole}`}
          {owner
            ? ": you manage people, roles, its title and invites, and moderate it."
            : ": you add and remove members, manage invites and moderate it."}
        </p>
        <FormAlert id="settings_alert" message={alert} />
        {notice && (
          <p class="notice" role="status" id="settings_notice">
            {notice}
          </p>
        )}
        {handOverTo && <ConfirmHandOver base={base} heading={heading} to={handOverTo} />}
      </section>

      <section class="card settings" aria-labelledby="members_heading">
        <h2 id="members_heading">Members ({members.length})</h2>
        <table class="members" id="members">
          <ListHead columns={["Name", "Role"]} />
          <tbody>
            {sorted.map((member) => (
              <MemberRow base={base} member={member} self={member.id === viewer.user.id} myRole={myRole} />
            ))}
          </tbody>
        </table>
        <form method="post" action={`${base}/members`} class="inline-form add-member" novalidate>
          <h3>Add someone</h3>
          <div class="input-row">
            <label for="add_username" class="visually-hidden">
              Username
            </label>
            <span class="hash" aria-hidden="true">
              @
            </span>
            <input
              id="add_username"
              class="grow"
              name="username"
              value={props.addUsername}
              placeholder="username"
              required
            />
            <label for="add_role" class="visually-hidden">
              Role
            </label>
            <select id="add_role" name="role">
              <option value="member">as a member</option>
              {owner && <option value="moderator">as a moderator</option>}
            </select>
            <button type="submit" class="button primary">
              Add
            </button>
          </div>
        </form>
      </section>

      {props.moderation && (
        <ModerationSettings
          base={base}
          moderation={props.moderation}
          log={props.log ?? []}
          muteUsername={props.muteUsername}
          banUsername={props.banUsername}
        />
      )}

      {owner && (
        <section class="card settings" aria-labelledby="owner_heading">
          <h2 id="owner_heading">Name and ownership</h2>
          <form method="post" action={`${base}/title`} class="inline-form" novalidate>
            <label for="room_title">{room.kind === "public" ? `Title (shown beside #${room.id})` : "Title"}</label>
            <div class="input-row">
              <input
                id="room_title"
                class="grow"
                name="title"
                value={props.titleValue ?? room.title ?? ""}
                maxlength={80}
                required={room.kind !== "public"}
              />
              <button type="submit" class="button">
                Rename
              </button>
            </div>
          </form>
          <HandOverForm base={base} members={sorted.filter((member) => member.id !== viewer.user.id)} />
        </section>
      )}

      {invites && (
        <section class="card settings" aria-labelledby="invites_heading">
          <h2 id="invites_heading">Invite links</h2>
          <p class="hint">Anyone logged in who opens a live link becomes a member, until it expires or is used up.</p>
          {newInviteUrl && (
            <div class="notice new-invite" role="status" id="new_invite">
              <label for="new_invite_url">New invite link: copy it now, it is shown only this once.</label>
              <input id="new_invite_url" class="invite-url" type="text" readonly value={newInviteUrl} />
            </div>
          )}
          <form method="post" action={`${base}/invites`} class="inline-form" novalidate>
            <div class="input-row">
              <label for="invite_expiry">Lasts</label>
              <select id="invite_expiry" name="expires_in">
                {INVITE_EXPIRY_CHOICES.map(({ seconds, label }) => (
                  <option value={String(seconds)} selected={seconds === 24 * 3600}>
                    {label}
                  </option>
                ))}
              </select>
              <label for="invite_uses">Uses</label>
              <input
                id="invite_uses"
                name="max_uses"
                type="number"
                min="1"
                max="1000"
                value={String(INVITE_DEFAULT_USES)}
                class="uses"
              />
              <button type="submit" class="button primary">
                Create link
              </button>
            </div>
          </form>
          {invites.length === 0 ? (
            <p class="empty">No live invite links.</p>
          ) : (
            <table class="invites" id="invites">
              <ListHead columns={["Link", "Used", "Expires"]} />
              <tbody>
                {invites.map((invite) => (
                  <tr data-invite={invite.id}>
                    <td>
                      <code>{invite.id}</code>
                    </td>
                    <td>
                      {invite.uses} of {invite.max_uses}
                    </td>
                    <td>
                      <time datetime={invite.expires_at} title={invite.expires_at}>
                        {timeLeft(new Date(invite.expires_at))}
                      </time>
                    </td>
                    <td class="actions">
                      <form method="post" action={`${base}/invites/revoke`}>
                        <input type="hidden" name="invite" value={invite.id} />
                        <button type="submit" class="button quiet danger" aria-label={`Revoke invite ${invite.id}`}>
                          Revoke
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
    </Layout>
  );
}

/** One member: their role, and what the viewer may do to them (only to someone they outrank). */
function MemberRow({ base, member, self, myRole }: { base: string; member: MemberView; self: boolean; myRole: Role }) {
  const outranks = !self && RANK[myRole] > RANK[member.role];
  return (
    <tr data-member={member.username}>
      <td>
        <span class="member-name">@{member.username}</span>
        {self && <span class="muted"> (you)</span>}
      </td>
      <td>{member.role === "member" ? <span class="muted">member</span> : <RoleBadge role={member.role} />}</td>
      <td class="actions">
        {outranks && myRole === "owner" && (
          <form method="post" action={`${base}/members/role`}>
            <input type="hidden" name="username" value={member.username} />
            <input type="hidden" name="role" value={member.role === "member" ? "moderator" : "member"} />
            <button type="submit" class="button quiet">
              {member.role === "member" ? "Make moderator" : "Make member"}
            </button>
          </form>
        )}
        {outranks && (
          <form method="post" action={`${base}/members/remove`}>
            <input type="hidden" name="username" value={member.username} />
            <button type="submit" class="button quiet danger" aria-label={`Remove @${member.username}`}>
              Remove
            </button>
          </form>
        )}
      </td>
    </tr>
  );
}

function HandOverForm({ base, members }: { base: string; members: MemberView[] }) {
  if (members.length === 0) {
    return <p class="hint">Add someone to be able to hand the room over.</p>;
  }
  return (
    <form method="post" action={`${base}/owner`} class="inline-form" novalidate>
      <label for="hand_over_to">Hand the room over to</label>
      <div class="input-row">
        <select id="hand_over_to" name="username">
          {members.map((member) => (
            <option value={member.username}>@{member.username}</option>
          ))}
        </select>
        <button type="submit" class="button">
          Hand over…
        </button>
      </div>
      <p class="hint">You will be asked to confirm. Afterwards you are a moderator of the room.</p>
    </form>
  );
}

function ConfirmHandOver({ base, heading, to }: { base: string; heading: string; to: MemberView }) {
  return (
    <section class="confirm" id="confirm_hand_over" aria-labelledby="confirm_hand_over_heading">
      <h2 id="confirm_hand_over_heading">
        Make @{to.username} the owner of {heading}?
      </h2>
      <p>
        They will manage its people, roles, title and invites, and you will be a moderator. Only they can give it back.
      </p>
      <div class="room-actions">
        <form method="post" action={`${base}/owner`}>
          <input type="hidden" name="username" value={to.username} />
          <input type="hidden" name="confirm" value="yes" />
          <button type="submit" class="button primary" id="confirm_hand_over_button" autofocus>
            Yes, make @{to.username} the owner
          </button>
        </form>
        <a class="button quiet" href={base}>
          Cancel
        </a>
      </div>
    </section>
  );
}

/** "in 59 min", "in 23 h", "in 7 d": how long an invite still lasts. */
export function timeLeft(until: Date, now: Date = new Date()): string {
  const minutes = Math.max(0, Math.round((until.getTime() - now.getTime()) / 60_000));
  if (minutes < 1) return "in under a minute";
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `in ${hours} h`;
  return `in ${Math.round(hours / 24)} d`;
}

/** A settings table's header: its columns, then an unlabelled one for each row's buttons. */
function ListHead({ columns }: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((column) => (
          <th scope="col">{column}</th>
        ))}
        <th scope="col">
          <span class="visually-hidden">Actions</span>
        </th>
      </tr>
    </thead>
  );
}
