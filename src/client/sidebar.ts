/**
 * The room page's sidebar as a drawer on a narrow screen (public/styles.css): the "Rooms" button opens and
 * closes it; Escape, the backdrop or following a link closes it. Without this script the sidebar simply
 * follows the room on a narrow screen, and on a wide one it is always beside the room.
 */
export function enableRoomsDrawer(): void {
  const layout = document.getElementById("room_layout");
  const drawer = document.getElementById("room_nav");
  const toggle = document.getElementById("rooms_toggle");
  if (!layout || !drawer || !toggle) return;

  const isOpen = () => layout.dataset.drawer === "open";
  const set = (open: boolean) => {
    layout.dataset.drawer = open ? "open" : "closed";
    toggle.setAttribute("aria-expanded", String(open));
    if (open) drawer.querySelector<HTMLElement>("a[aria-current], a")?.focus();
  };
  set(false);

  toggle.addEventListener("click", (event) => {
    event.stopPropagation();
    set(!isOpen());
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isOpen()) {
      set(false);
      toggle.focus();
    }
  });
  // A click outside the open drawer (on the backdrop) closes it.
  document.addEventListener("click", (event) => {
    if (isOpen() && !drawer.contains(event.target as Node)) set(false);
  });
}
