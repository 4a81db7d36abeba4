/**
 * A moderator's menu on each person in the online list (rendered only for the owner and moderators): mute
 * for 1 min, 1 h, 1 day or a number of minutes, or ban, asked twice. It calls the rooms API with the page's
 * session cookie; the room decides (its rank rules), and its answer or refusal is shown in the menu.
 */
import { formatPostTime } from "../shared/time";

export function enableMemberMenu(room: string): void {
  const menu = document.getElementById("member_menu");
  const list = document.getElementById("online_list");
  if (!menu || !list) return;
  const find = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const name = find("member_menu_name");
  const result = find("member_menu_result");
  const confirmBan = find("member_ban_confirm");
  const minutes = find<HTMLInputElement>("mute_minutes");
  let username = "";

  const act = async (path: "mutes" | "bans", body: object, done: (answer: Record<string, string>) => string) => {
    result.textContent = "…";
    try {
      const response = await fetch(`/api/rooms/${encodeURIComponent(room)}/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username, ...body }),
      });
      const answer = (await response.json()) as Record<string, Record<string, string>> & { error?: string };
      result.textContent = response.ok ? done(answer.mute ?? answer.ban ?? {}) : (answer.error ?? `${response.status}`);
    } catch {
      result.textContent = "That did not go through; try again.";
    }
  };
  const mute = (seconds: number) =>
    act("mutes", { seconds }, (muted) => `@${username} is muted until ${formatPostTime(muted.until ?? "")}.`);

  list.addEventListener("click", (event) => {
    const chosen = (event.target as Element).closest<HTMLElement>("[data-username]");
    if (!chosen) return;
    username = chosen.dataset.username ?? "";
    name.textContent = `@${username}`;
    result.textContent = "";
    confirmBan.hidden = true;
    menu.hidden = false;
  });
  menu.addEventListener("click", (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button");
    if (button?.dataset.mute) void mute(Number(button.dataset.mute));
    else if (button?.id === "member_ban") confirmBan.hidden = false;
    else if (button === confirmBan) void act("bans", {}, () => `@${username} is banned.`);
    else if (button?.id === "member_menu_close") menu.hidden = true;
  });
  find("mute_custom").addEventListener("submit", (event) => {
    event.preventDefault();
    void mute(Math.round(Number(minutes.value) * 60));
  });
}
