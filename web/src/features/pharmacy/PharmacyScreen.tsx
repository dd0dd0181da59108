/** Pharmacy: the worklist, and prescriptions to dispense (once) with counselling notes. */
import { Alert, Badge, Button, Group, Paper, Stack, Text, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useNavigate } from "react-router";
import { api, unwrap } from "../../api/client";
import { fieldErrors } from "../../api/problem";
import type { Prescription } from "../../api/types";
import { ErrorNote } from "../../components/ErrorNote";
import { PatientHeader } from "../../components/PatientHeader";
import { Worklist } from "../../components/Worklist";
import { t } from "../../i18n";
import { usePresence, useTypingSignal } from "../presence/presence";

export function PharmacyScreen() {
  const navigate = useNavigate();
  return (
    <Worklist department="pharmacy" title={t("worklist.title", { department: t("nav.pharmacy") })}
      onOpen={(a) => navigate(`/pharmacy/patients/${a.patientId}`)} />
  );
}

function DispenseForm({ rx, onEditing }: { rx: Prescription; onEditing: () => void }) {
  const queryClient = useQueryClient();
  usePresence("prescription", rx.id);
  const typing = useTypingSignal(rx.patientId, "dispensing_notes");
  const [notes, setNotes] = useState("");
  const dispense = useMutation({
    mutationFn: () => unwrap(api.pharmacy.PATCH("/prescriptions/{prescription_id}", {
      params: { path: { prescription_id: rx.id } },
      body: { status: "DISPENSED", dispensingNotes: notes || null, version: rx.version },
    })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["pharmacy"] }),
  });
  const errors = fieldErrors(dispense.error, ["dispensingNotes"]);
  const dispensed = rx.status === "DISPENSED";
  return (
    <Paper withBorder p="md" component="section" aria-labelledby={`rx-${rx.id}`}>
      <Group justify="space-between">
        <Title order={3} size="h4" id={`rx-${rx.id}`}>{rx.medicationName} {rx.dosage}</Title>
        <Group gap="xs">
          {rx.priority === "URGENT" && <Badge color="red.9">URGENT</Badge>}
          <Badge variant="outline" color="gray.8">{rx.status}</Badge>
        </Group>
      </Group>
      <Text size="sm">{[rx.frequency, rx.duration, rx.instructions].filter(Boolean).join(" · ")}</Text>
      {dispensed ? (
        <Alert color="green" mt="sm" role="status">
          {t("pharmacy.dispensed", { name: rx.dispensedByName ?? rx.dispensedBy ?? "" })}
          {rx.dispensingNotes ? ` — ${rx.dispensingNotes}` : ""}
        </Alert>
      ) : (
        <form onSubmit={(e) => { e.preventDefault(); dispense.mutate(); }} noValidate>
          <Stack gap="xs" mt="sm">
            <ErrorNote message={errors[""]} />
            <Textarea label={t("pharmacy.notes")} value={notes} error={errors.dispensingNotes} autosize minRows={2}
              onFocus={onEditing} onChange={(e) => { setNotes(e.currentTarget.value); typing(); }} />
            <Group><Button type="submit" loading={dispense.isPending}>{t("pharmacy.dispense", { medication: rx.medicationName })}</Button></Group>
          </Stack>
        </form>
      )}
    </Paper>
  );
}

export function PharmacyPatient({ patientId }: { patientId: string }) {
  const setMode = useRef<(mode: "viewing" | "editing") => void>(() => undefined);
  const list = useQuery({
    queryKey: ["pharmacy", "prescriptions", patientId],
    queryFn: () => unwrap(api.pharmacy.GET("/prescriptions", { params: { query: { patientId } } })),
  });
  const rows = list.data ?? [];
  return (
    <>
      <PatientHeader patientId={patientId} title={(name) => t("pharmacy.title", { name })}
        setModeRef={(fn) => { setMode.current = fn; }} />
      <Stack>
        {rows.map((rx) => <DispenseForm key={rx.id} rx={rx} onEditing={() => setMode.current("editing")} />)}
        {rows.length === 0 && !list.isLoading && <Text>{t("pharmacy.none")}</Text>}
      </Stack>
    </>
  );
}
