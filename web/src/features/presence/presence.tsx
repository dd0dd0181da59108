/** Who else has this open, who is typing where: hooks and the lines that say it. */
import { Avatar, Group, Text, Tooltip } from "@mantine/core";
import { useCallback, useEffect, useRef } from "react";
import { useAuth } from "../../app/auth";
import { useLive } from "../../app/live";
import { t, type MessageKey } from "../../i18n";
import { othersIn, roomKey, typingIn } from "../../live/store";

/** Announce that this screen has the entity open; returns a setter for viewing/editing. */
export function usePresence(entityType: string, entityId: string | undefined) {
  const { client } = useLive();
  const mode = useRef<"viewing" | "editing">("viewing");
  useEffect(() => {
    if (!client || !entityId) return;
    client.emit("entity_edit_start", { entityType, entityId, mode: mode.current });
    return () => {
      client.emit("entity_edit_end", { entityType, entityId });
    };
  }, [client, entityType, entityId]);
  return useCallback(
    (next: "viewing" | "editing") => {
      if (!client || !entityId || mode.current === next) return;
      mode.current = next;
      client.emit("entity_edit_start", { entityType, entityId, mode: next });
    },
    [client, entityType, entityId],
  );
}

/** Keystrokes in `field` of a patient tell the others (typing_start / typing_stop). */
export function useTypingSignal(patientId: string | undefined, field: string) {
  const { client } = useLive();
  return useCallback(() => {
    if (client && patientId) client.typing(patientId, field);
  }, [client, patientId, field]);
}

function initials(name: string): string {
  return name
    .replace(/^Dr\.?\s+/, "")
    .split(/\s+/)
    .map((part) => part[0] ?? "")
    .join("")
    .slice(0, 2)
    .toUpperCase();
}

/** Avatars of the others here: "Sarah Achieng is viewing" / "is editing". */
export function PresenceBar({ entityType, entityId }: { entityType: string; entityId: string }) {
  const { rooms } = useLive();
  const { user } = useAuth();
  const others = othersIn(rooms, roomKey(entityType, entityId), user?.id ?? null);
  if (others.length === 0) return null;
  return (
    <Group gap="xs" role="status" aria-label={t("presence.label")} aria-live="polite">
      {others.map((member) => {
        const text = t(member.mode === "editing" ? "presence.editing" : "presence.viewing", { name: member.name });
        return (
          <Group key={member.userId} gap={4}>
            <Tooltip label={text}>
              <Avatar size="sm" radius="xl" variant="filled" color={member.mode === "editing" ? "#a33b00" : "teal.9"} aria-hidden>
                {initials(member.name)}
              </Avatar>
            </Tooltip>
            <Text size="sm">{text}</Text>
          </Group>
        );
      })}
    </Group>
  );
}

/** "Mike Otieno is typing in lab results", beside the field. */
export function TypingHint({ patientId, field }: { patientId: string; field: string }) {
  const { typing } = useLive();
  const { user } = useAuth();
  const names = typingIn(typing, patientId, field, user?.id ?? null);
  const fieldName = t(`field.${field}` as MessageKey);
  return (
    <Text size="sm" c="#a33b00" fs="italic" aria-live="polite" mih={20}>
      {names.map((name) => t("presence.typing", { name, field: fieldName })).join("; ")}
    </Text>
  );
}

/** Typing in fields this screen does not show (a nurse sees the doctor typing the diagnosis). */
export function TypingElsewhere({ patientId, shownBelow }: { patientId: string; shownBelow: string[] }) {
  const { typing } = useLive();
  const { user } = useAuth();
  const fields = Object.keys(typing[patientId] ?? {}).filter((f) => !shownBelow.includes(f));
  const lines = fields.flatMap((field) =>
    typingIn(typing, patientId, field, user?.id ?? null).map((name) =>
      t("presence.typing", { name, field: t(`field.${field}` as MessageKey) }),
    ),
  );
  return (
    <Text size="sm" c="#a33b00" fs="italic" aria-live="polite">
      {lines.join("; ")}
    </Text>
  );
}
