/** Lab: the worklist, and results entry with reference ranges and flags as typed. */
import { Alert, Badge, Button, Group, Modal, Paper, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useNavigate } from "react-router";
import { api, unwrap } from "../../api/client";
import { ApiError, fieldErrors } from "../../api/problem";
import type { LabRequest, LabTest } from "../../api/types";
import { ErrorNote } from "../../components/ErrorNote";
import { PatientHeader } from "../../components/PatientHeader";
import { Worklist } from "../../components/Worklist";
import { label, t } from "../../i18n";
import { usePresence, useTypingSignal } from "../presence/presence";
import { flagFor, rangeText } from "./flags";

export function LabScreen() {
  const navigate = useNavigate();
  return (
    <Worklist department="lab" title={t("worklist.title", { department: t("nav.lab") })}
      onOpen={(a) => navigate(`/lab/patients/${a.patientId}`)} />
  );
}

function ResultsForm({ request, test, patientId, onEditing }: {
  request: LabRequest; test: LabTest | undefined; patientId: string; onEditing: () => void;
}) {
  const queryClient = useQueryClient();
  usePresence("lab_request", request.id);
  const typing = useTypingSignal(patientId, "lab_results");
  const analytes = test?.analytes ?? [];
  const [values, setValues] = useState<Record<string, string>>({});
  const [notes, setNotes] = useState("");
  const [confirming, setConfirming] = useState<string[] | null>(null);
  const send = useMutation({
    mutationFn: () => {
      const results = Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim()));
      return unwrap(api.lab.PATCH("/lab-requests/{request_id}", {
        params: { path: { request_id: request.id } },
        body: { status: "COMPLETED", results, notes: notes || null, version: request.version },
      }));
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["lab"] });
    },
  });
  const errors = fieldErrors(send.error, analytes.map((a) => a.key).concat(["notes"]));
  const critical = analytes
    .filter((a) => (flagFor(values[a.key] ?? "", a.referenceRange) ?? "").startsWith("CRITICAL"))
    .map((a) => `${a.name} ${values[a.key]}`);

  return (
    <Paper withBorder p="md" component="section" aria-labelledby={`req-${request.id}`}>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4" id={`req-${request.id}`}>{request.testName}</Title>
        <Group gap="xs">
          {request.urgency === "URGENT" && <Badge color="red.9">URGENT</Badge>}
          <Badge variant="outline" color="gray.8">{request.status}</Badge>
        </Group>
      </Group>
      {request.orderNotes && <Text size="sm" mb="xs">{request.orderNotes}</Text>}
      {send.isSuccess && <Alert color="green" role="status">{t("lab.sent")}</Alert>}
      <ErrorNote message={send.error instanceof ApiError && send.error.status === 409 ? send.error.message : errors[""]} />
      <form onSubmit={(e) => { e.preventDefault(); if (critical.length) setConfirming(critical); else send.mutate(); }} noValidate>
        <Table>
          <Table.Tbody>
            {analytes.map((a) => {
              const flag = flagFor(values[a.key] ?? "", a.referenceRange);
              return (
                <Table.Tr key={a.key}>
                  <Table.Td w="45%">
                    <TextInput
                      label={a.name}
                      value={values[a.key] ?? ""}
                      error={errors[a.key]}
                      placeholder={a.unit ?? ""}
                      description={t("lab.reference", { range: rangeText(a.referenceRange) })}
                      onFocus={onEditing}
                      onChange={(e) => { const v = e.currentTarget.value; setValues((x) => ({ ...x, [a.key]: v })); typing(); }}
                    />
                  </Table.Td>
                  <Table.Td aria-live="polite">
                    {flag && (
                      <Badge color={flag === "NORMAL" ? "#1b5e20" : flag.startsWith("CRITICAL") ? "red.9" : "#a33b00"} variant="filled">
                        {label("flag", flag)}
                      </Badge>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
        <Textarea label={t("lab.notes")} value={notes} error={errors.notes} autosize minRows={2} mt="sm"
          onFocus={onEditing} onChange={(e) => { setNotes(e.currentTarget.value); typing(); }} />
        <Button type="submit" mt="sm" loading={send.isPending} disabled={request.status === "COMPLETED"}>{t("lab.submit")}</Button>
      </form>
      <Modal opened={confirming !== null} onClose={() => setConfirming(null)} title={t("lab.confirmCritical")}
        closeButtonProps={{ "aria-label": t("common.close") }}>
        <Text mb="md">{t("lab.confirmCriticalText", { values: (confirming ?? []).join(", ") })}</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setConfirming(null)}>{t("common.cancel")}</Button>
          <Button color="red.9" onClick={() => { setConfirming(null); send.mutate(); }}>{t("lab.confirm")}</Button>
        </Group>
      </Modal>
    </Paper>
  );
}

export function LabPatient({ patientId }: { patientId: string }) {
  const setMode = useRef<(mode: "viewing" | "editing") => void>(() => undefined);
  const requests = useQuery({
    queryKey: ["lab", "requests", patientId],
    queryFn: () => unwrap(api.lab.GET("/lab-requests", { params: { query: { patientId } } })),
  });
  const tests = useQuery({ queryKey: ["lab", "tests"], queryFn: () => unwrap(api.lab.GET("/lab-tests")), staleTime: Infinity });
  const open = (requests.data ?? []).filter((r) => r.status !== "COMPLETED" && r.status !== "CANCELLED");
  const done = (requests.data ?? []).filter((r) => r.status === "COMPLETED");
  return (
    <>
      <PatientHeader patientId={patientId} title={(name) => t("lab.title", { name })}
        setModeRef={(fn) => { setMode.current = fn; }} />
      <Stack>
        {open.map((r) => (
          <ResultsForm key={r.id} request={r} patientId={patientId} onEditing={() => setMode.current("editing")}
            test={tests.data?.find((x) => x.code === r.testType)} />
        ))}
        {open.length === 0 && !requests.isLoading && <Text>{t("lab.noRequests")}</Text>}
        {done.map((r) => (
          <Paper key={r.id} withBorder p="sm">
            <Text fw={600}>{r.testName} · {r.status}</Text>
            {r.results.map((x) => (
              <Text key={x.analyte} size="sm" c={x.critical ? "red.9" : undefined}>{x.name}: {x.text} ({label("flag", x.flag)})</Text>
            ))}
          </Paper>
        ))}
      </Stack>
    </>
  );
}
