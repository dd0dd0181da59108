import { t } from "../i18n";

/** "7 min", "2 h 5 min": how long since `since` (ISO), at `now` (ms). */
export function waitingText(since: string, now: number): string {
  const minutes = Math.max(0, Math.floor((now - Date.parse(since)) / 60_000));
  if (minutes < 60) return t("worklist.minutes", { m: minutes });
  return t("worklist.hours", { h: Math.floor(minutes / 60), m: minutes % 60 });
}

/** URGENT first, then by arrival (the order the services answer; kept when merging live). */
export function byPriorityThenArrival<T extends { priority: string; createdAt: string }>(rows: T[]): T[] {
  return [...rows].sort(
    (a, b) =>
      Number(b.priority === "URGENT") - Number(a.priority === "URGENT") ||
      Date.parse(a.createdAt) - Date.parse(b.createdAt),
  );
}
