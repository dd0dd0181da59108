/** The patient a screen is about: name, OP number, age, and who else has them open. */
import { Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { label } from "../i18n";
import { PresenceBar, TypingElsewhere, usePresence } from "../features/presence/presence";

export function usePatient(patientId: string) {
  return useQuery({
    queryKey: ["registration", "patients", patientId],
    queryFn: () => unwrap(api.registration.GET("/patients/{patient_id}", { params: { path: { patient_id: patientId } } })),
  });
}

export function PatientHeader({
  patientId,
  title,
  setModeRef,
  shownBelow = [],
}: {
  patientId: string;
  /** Fields whose typing the screen shows beside the field itself. */
  shownBelow?: string[];
  title: (name: string) => string;
  setModeRef?: (setMode: (mode: "viewing" | "editing") => void) => void;
}) {
  const patient = usePatient(patientId);
  const setMode = usePresence("patient", patientId);
  setModeRef?.(setMode);
  const p = patient.data;
  return (
    <Paper withBorder p="sm" mb="md">
      <Stack gap={4}>
        <Title order={2} size="h3">
          {title(p?.fullName ?? "…")}
        </Title>
        {p && (
          <Text size="sm" c="gray.8">
            {p.opNumber} · {label("gender", p.gender)} · {p.age ?? "?"} y · {p.phoneNumber ?? ""} ·{" "}
            {label("insurance", p.insuranceType)}
            {p.visit ? ` · ${label("status", p.visit.status)}` : ""}
          </Text>
        )}
        <Group>
          <PresenceBar entityType="patient" entityId={patientId} />
        </Group>
        <TypingElsewhere patientId={patientId} shownBelow={shownBelow} />
      </Stack>
    </Paper>
  );
}
