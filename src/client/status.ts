/** The visible connection state in `#connection`, so a person always knows whether they are live. */
export type ConnectionState = "connecting" | "live" | "reconnecting" | "error";

const LABELS: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  error: "Not connected",
};

export function showConnectionState(element: HTMLElement, state: ConnectionState, detail?: string): void {
  element.dataset.state = state;
  element.textContent = detail ? `${LABELS[state]}: ${detail}` : LABELS[state];
}
