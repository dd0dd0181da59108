/**
 * What the live connection knows, as plain data: who has which entity open, who is typing
 * where. Pure functions of the frames (unit-tested), kept in React state by LiveProvider.
 */
import type { PresenceMember } from "./kliniki-live";

export type PresenceRooms = Record<string, PresenceMember[]>;
/** patientId -> field -> userId -> name */
export type TypingMap = Record<string, Record<string, Record<string, string>>>;

export const roomKey = (entityType: string, entityId: string): string =>
  `${entityType}:${entityId}`;

interface PresenceStateData {
  entityType: string;
  entityId: string;
  members: PresenceMember[];
}
interface PresenceDiffData {
  entityType: string;
  entityId: string;
  joins: PresenceMember[];
  leaves: PresenceMember[];
}
export interface TypingData {
  patientId: string;
  field: string;
  userId: string;
  name: string;
  isTyping: boolean;
}

export function applyPresenceState(rooms: PresenceRooms, data: PresenceStateData): PresenceRooms {
  return { ...rooms, [roomKey(data.entityType, data.entityId)]: [...data.members] };
}

export function applyPresenceDiff(rooms: PresenceRooms, data: PresenceDiffData): PresenceRooms {
  const key = roomKey(data.entityType, data.entityId);
  let members = [...(rooms[key] ?? [])];
  const leaving = new Set(data.leaves.map((m) => m.userId));
  members = members.filter((m) => !leaving.has(m.userId));
  for (const join of data.joins) {
    const at = members.findIndex((m) => m.userId === join.userId);
    if (at >= 0) members[at] = join;
    else members.push(join);
  }
  return { ...rooms, [key]: members };
}

export function applyTyping(typing: TypingMap, data: TypingData): TypingMap {
  const fields = { ...(typing[data.patientId] ?? {}) };
  const users = { ...(fields[data.field] ?? {}) };
  if (data.isTyping) users[data.userId] = data.name;
  else delete users[data.userId];
  fields[data.field] = users;
  return { ...typing, [data.patientId]: fields };
}

/** Everyone else in a room, for the avatars ("Sarah Achieng is viewing"). */
export function othersIn(rooms: PresenceRooms, key: string, me: string | null): PresenceMember[] {
  return (rooms[key] ?? []).filter((m) => m.userId !== me);
}

/** Names of the others typing in a field of a patient. */
export function typingIn(
  typing: TypingMap,
  patientId: string,
  field: string,
  me: string | null,
): string[] {
  const users = typing[patientId]?.[field] ?? {};
  return Object.entries(users)
    .filter(([userId]) => userId !== me)
    .map(([, name]) => name);
}

export type QueryKeyPrefix = readonly unknown[];

/**
 * Which cached queries a notification makes stale. Query keys start with the service name
 * (["triage", "assignments"], ["clinical", "record", patientId], ...); invalidating a prefix
 * refetches every query under it that a screen is showing.
 */
export function staleQueries(event: string, data: Record<string, unknown>): QueryKeyPrefix[] {
  const patientId = typeof data.patientId === "string" ? data.patientId : undefined;
  // Every frame about a patient refreshes that patient's record and demographics: departments
  // learn of each other's changes through events too, so the record may lag the frame a little
  // (LiveProvider asks again a moment later).
  const record: QueryKeyPrefix[] = patientId
    ? [["clinical", "record", patientId], ["registration", "patients", patientId]]
    : [];
  const visits: QueryKeyPrefix[] = [["registration", "visits"], ["registration", "patients"]];
  switch (event) {
    case "patient_registered":
      return [...visits, ["triage", "assignments"]];
    case "new_assignment":
    case "patient_assignment_updated":
    case "wait_time_exceeded":
      return [
        ...record,
        ["triage", "encounters"],
        ["triage", "assignments"],
        ["clinical", "assignments"],
        ["lab", "assignments"],
        ["pharmacy", "assignments"],
        ["billing", "assignments"],
        ...visits,
      ];
    case "patient_updated":
      return [["triage", "encounters"], ...record, ["clinical", "assignments"], ...visits];
    case "new_lab_request":
      return [["lab", "assignments"], ["lab", "requests"], ...record];
    case "lab_results_ready":
      return [["lab", "requests"], ...record, ...visits];
    case "prescription_ready":
      return [["pharmacy", "assignments"], ["pharmacy", "prescriptions"], ...record];
    case "prescription_updated":
      return [["pharmacy", "prescriptions"], ...record, ...visits, ["billing", "invoice"]];
    case "patient_ready_for_payment":
      return [["billing", "assignments"], ["billing", "invoice"], ...visits];
    case "visit_completed":
      return [
        ...visits,
        ["billing", "invoice"],
        ["billing", "assignments"],
        ["clinical", "assignments"],
        ...record,
      ];
    case "follow_up_scheduled":
      return [["registration", "appointments"]];
    case "visit_updated":
      return [["registration", "visits"]];
    default:
      return [];
  }
}

/**
 * Frames that only make queries stale (the visits board's visit_updated): replayed after a
 * reconnect like notifications, but never shown as one (no toast; GET /notifications leaves
 * them out too).
 */
export const SIGNALS: ReadonlySet<string> = new Set(["visit_updated"]);

/** Frames that are notifications (stored, with an id) and how urgent they are. */
export function isUrgent(data: Record<string, unknown>): boolean {
  return data.priority === "URGENT" || data.urgency === "URGENT";
}

/** The one line a notification shows. */
export function notificationText(event: string, data: Record<string, unknown>): string {
  if (typeof data.message === "string") return data.message;
  switch (event) {
    case "patient_registered":
      return `Patient ${String(data.opNumber)} registered`;
    case "new_lab_request":
      return `${data.urgency === "URGENT" ? "URGENT: " : ""}New lab request: ${String(data.testType)}`;
    case "prescription_ready":
      return `Prescription ready: ${String(data.medicationName)}`;
    case "prescription_updated":
      return `Medication dispensed${data.medicationName ? `: ${String(data.medicationName)}` : ""}`;
    case "patient_ready_for_payment":
      return `Patient ready for payment: ${String(data.totalAmount)} (${String(data.paymentType)})`;
    case "patient_updated":
      return "Patient record updated";
    case "follow_up_scheduled":
      return `Follow-up scheduled for ${String(data.appointmentDate)}`;
    case "wait_time_exceeded":
      return `Waiting ${String(data.minutesWaited)} min at ${String(data.stage)}`;
    default:
      return event.replace(/_/g, " ");
  }
}
