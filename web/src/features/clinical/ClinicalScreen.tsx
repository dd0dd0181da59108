/** Clinical: the worklist, and the consultation (record, diagnosis, prescriptions, lab orders). */
import { Alert, Autocomplete, Badge, Button, Grid, Group, Paper, Select, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router";
import { api, idempotencyKey, unwrap } from "../../api/client";
import { fieldErrors } from "../../api/problem";
import type { PatientRecord } from "../../api/types";
import { ErrorNote } from "../../components/ErrorNote";
import { PatientHeader } from "../../components/PatientHeader";
import { Worklist } from "../../components/Worklist";
import { label, t } from "../../i18n";
import { TypingHint, useTypingSignal } from "../presence/presence";
import { FollowUpForm } from "../reception/ReceptionScreen";

export function ClinicalScreen() {
  const navigate = useNavigate();
  return (
    <Worklist department="clinical" title={t("worklist.title", { department: t("nav.clinical") })}
      onOpen={(a) => navigate(`/clinical/patients/${a.patientId}`)} />
  );
}

function useRecord(patientId: string) {
  return useQuery({
    queryKey: ["clinical", "record", patientId],
    queryFn: () => unwrap(api.clinical.GET("/patients/{patient_id}/record", { params: { path: { patient_id: patientId } } })),
  });
}

function Section({ title, children, side }: { title: string; children: ReactNode; side?: ReactNode }) {
  const id = `section-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <Paper withBorder p="md" component="section" aria-labelledby={id}>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4" id={id}>{title}</Title>
        {side}
      </Group>
      {children}
    </Paper>
  );
}

function vitalText(v: unknown): string {
  if (v && typeof v === "object" && "text" in v) return String((v as { text: unknown }).text);
  return v === null || v === undefined ? "—" : String(v);
}

function TriageFindings({ record }: { record: PatientRecord }) {
  const triage = record.triage;
  if (!triage) return <Text c="gray.8">{t("clinical.noTriage")}</Text>;
  const vs = triage.vitalSigns as Record<string, unknown>;
  return (
    <Stack gap={4}>
      <Group gap="xs">
        {triage.triageCategory && <Badge color={triage.triageCategory === "NORMAL" ? "gray.7" : "red.9"}>{triage.triageCategory}</Badge>}
        {triage.tewsScore !== null && <Badge color="gray.8">{`TEWS ${triage.tewsScore}`}</Badge>}
      </Group>
      <Text size="sm">{triage.chiefComplaint}</Text>
      <Text size="sm">
        {t("triage.bp")}: {vitalText(vs.bloodPressure)} · {t("triage.temperature")}: {vitalText(vs.temperature)} ·{" "}
        {t("triage.pulse")}: {vitalText(vs.pulse)} · {t("triage.rr")}: {vitalText(vs.respiratoryRate)}
      </Text>
    </Stack>
  );
}

/** The patient's earlier visits in brief (date, diagnoses), newest first, from the record. */
function EarlierVisits({ record }: { record: PatientRecord }) {
  const visits = record.earlierVisits ?? [];
  if (visits.length === 0) return <Text c="gray.8">{t("clinical.noEarlierVisits")}</Text>;
  return (
    <Stack gap={6} component="ul" style={{ listStyle: "none", padding: 0, margin: 0 }}>
      {visits.map((v) => (
        <li key={v.visitId}>
          <Text size="sm" fw={700} span>
            {v.openedAt ? (
              <time dateTime={v.openedAt}>
                {new Date(v.openedAt).toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" })}
              </time>
            ) : (
              "—"
            )}
          </Text>{" "}
          <Text size="sm" span>
            {v.diagnoses.length
              ? v.diagnoses.map((d) => `${d.diagnosisCode} ${d.diagnosisName}`).join("; ")
              : t("clinical.noDiagnosis")}
          </Text>
        </li>
      ))}
    </Stack>
  );
}

function useCreate(patientId: string, path: "diagnoses" | "prescriptions" | "lab-requests") {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      unwrap(
        api.clinical.POST(`/patients/{patient_id}/${path}` as "/patients/{patient_id}/diagnoses", {
          params: { path: { patient_id: patientId } },
          body: body as never,
          headers: { "Idempotency-Key": idempotencyKey() },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["clinical", "record", patientId] }),
  });
}

function DiagnosisForm({ patientId, onEditing }: { patientId: string; onEditing: () => void }) {
  const [code, setCode] = useState("");
  const [name, setName] = useState("");
  const [notes, setNotes] = useState("");
  const typing = useTypingSignal(patientId, "diagnosis");
  const add = useCreate(patientId, "diagnoses");
  const [query] = useDebouncedValue(code.trim(), 200);
  const matches = useQuery({
    queryKey: ["clinical", "icd10", query],
    queryFn: () => unwrap(api.clinical.GET("/icd10", { params: { query: { q: query, limit: 15 } } })),
    enabled: query.length >= 2,
    staleTime: Infinity,
  });
  const errors = fieldErrors(add.error, ["diagnosisCode", "diagnosisName", "notes"]);
  function submit(e: FormEvent) {
    e.preventDefault();
    add.mutate(
      { diagnosisCode: code.trim().split(" ")[0] ?? "", diagnosisName: name.trim() || null, status: "ACTIVE", notes: notes.trim() || null },
      { onSuccess: () => { setCode(""); setName(""); setNotes(""); } },
    );
  }
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="xs">
        <ErrorNote message={errors[""]} />
        <Group grow align="flex-start">
          <Autocomplete
            label={t("clinical.diagnosisCode")}
            placeholder={t("clinical.icdPlaceholder")}
            value={code}
            error={errors.diagnosisCode}
            onFocus={onEditing}
            filter={({ options }) => options}
            data={(matches.data ?? []).map((m) => ({ value: `${m.code} ${m.description}`, label: `${m.code} ${m.description}` }))}
            onChange={(value) => { setCode(value); typing(); }}
            onOptionSubmit={(value) => {
              const [picked, ...title] = value.split(" ");
              setCode(picked ?? value);
              if (!name.trim()) setName(title.join(" "));
            }}
          />
          <TextInput label={t("clinical.diagnosisName")} value={name} error={errors.diagnosisName}
            onFocus={onEditing} onChange={(e) => { setName(e.currentTarget.value); typing(); }} />
        </Group>
        <Textarea label={t("clinical.diagnosisNotes")} value={notes} error={errors.notes} autosize minRows={1}
          onFocus={onEditing} onChange={(e) => { setNotes(e.currentTarget.value); typing(); }} />
        <Group><Button type="submit" loading={add.isPending}>{t("clinical.addDiagnosis")}</Button></Group>
      </Stack>
    </form>
  );
}

function PrescriptionForm({ patientId, onEditing }: { patientId: string; onEditing: () => void }) {
  const empty = { medicationName: "", dosage: "", frequency: "", duration: "", instructions: "" };
  const [form, setForm] = useState(empty);
  const typing = useTypingSignal(patientId, "prescription");
  const add = useCreate(patientId, "prescriptions");
  const errors = fieldErrors(add.error, Object.keys(empty));
  const field = (key: keyof typeof empty, text: string) => (
    <TextInput label={text} value={form[key]} error={errors[key]} onFocus={onEditing}
      onChange={(e) => { const v = e.currentTarget.value; setForm((f) => ({ ...f, [key]: v })); typing(); }} />
  );
  return (
    <form onSubmit={(e) => { e.preventDefault(); add.mutate({ ...form, instructions: form.instructions || null }, { onSuccess: () => setForm(empty) }); }} noValidate>
      <Stack gap="xs">
        <ErrorNote message={errors[""]} />
        <Group grow align="flex-start">{field("medicationName", t("clinical.medication"))}{field("dosage", t("clinical.dosage"))}</Group>
        <Group grow align="flex-start">{field("frequency", t("clinical.frequency"))}{field("duration", t("clinical.duration"))}</Group>
        {field("instructions", t("clinical.instructions"))}
        <Group><Button type="submit" loading={add.isPending}>{t("clinical.prescribe")}</Button></Group>
      </Stack>
    </form>
  );
}

function LabOrderForm({ patientId, onEditing }: { patientId: string; onEditing: () => void }) {
  const tests = useQuery({ queryKey: ["lab", "tests"], queryFn: () => unwrap(api.lab.GET("/lab-tests")), staleTime: Infinity });
  const [testType, setTestType] = useState<string | null>(null);
  const [urgency, setUrgency] = useState<string | null>("NORMAL");
  const [notes, setNotes] = useState("");
  const add = useCreate(patientId, "lab-requests");
  const errors = fieldErrors(add.error, ["testType", "urgency", "notes"]);
  return (
    <form onSubmit={(e) => { e.preventDefault(); add.mutate({ testType, urgency, notes: notes || null }, { onSuccess: () => { setTestType(null); setNotes(""); } }); }} noValidate>
      <Stack gap="xs">
        <ErrorNote message={errors[""]} />
        <Group grow align="flex-start">
          <Select label={t("clinical.testType")} value={testType} error={errors.testType} searchable onFocus={onEditing}
            data={(tests.data ?? []).map((x) => ({ value: x.code, label: x.name }))} onChange={setTestType} />
          <Select label={t("clinical.urgency")} value={urgency} error={errors.urgency}
            data={[{ value: "NORMAL", label: t("priority.NORMAL") }, { value: "URGENT", label: t("priority.URGENT") }]}
            onChange={setUrgency} />
        </Group>
        <TextInput label={t("clinical.orderNotes")} value={notes} error={errors.notes} onFocus={onEditing}
          onChange={(e) => setNotes(e.currentTarget.value)} />
        <Group><Button type="submit" loading={add.isPending}>{t("clinical.orderTest")}</Button></Group>
      </Stack>
    </form>
  );
}

function LabResults({ record }: { record: PatientRecord }) {
  return (
    <Stack gap="sm">
      {record.labRequests.map((lr) => (
        <div key={lr.id}>
          <Group gap="xs">
            <Text fw={600}>{lr.testType}</Text>
            <Badge variant="outline" color="gray.8">{lr.status}</Badge>
            {lr.urgency === "URGENT" && <Badge color="red.9">URGENT</Badge>}
            {lr.resultsCritical && <Badge color="red.9" variant="filled">{t("clinical.critical")}</Badge>}
          </Group>
          {lr.results && lr.results.length > 0 && (
            <Table withTableBorder mt={4}>
              <Table.Tbody>
                {lr.results.map((r, i) => {
                  const row = r as { name?: string; analyte?: string; text?: string; flag?: string; critical?: boolean };
                  return (
                    <Table.Tr key={i} bg={row.critical ? "var(--mantine-color-red-1)" : undefined}>
                      <Table.Td>{row.name ?? row.analyte}</Table.Td>
                      <Table.Td fw={row.critical ? 700 : 400}>{row.text}</Table.Td>
                      <Table.Td>{label("flag", row.flag)}</Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          )}
          {lr.resultNotes && <Text size="sm">{lr.resultNotes}</Text>}
        </div>
      ))}
      {record.labRequests.length === 0 && <Text c="gray.8">{t("common.none")}</Text>}
    </Stack>
  );
}

function CompleteConsultation({ record }: { record: PatientRecord }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const complete = useMutation({
    mutationFn: async () => {
      const list = await unwrap(api.clinical.GET("/assignments", { params: { query: { patientId: record.patientId } } }));
      const mine = list.find((a) => !record.visitId || a.visitId === record.visitId) ?? list[0];
      if (!mine) throw new Error("no active consultation for this patient");
      return unwrap(api.clinical.PATCH("/assignments/{assignment_id}", {
        params: { path: { assignment_id: mine.id } }, body: { status: "COMPLETED", version: mine.version },
      }));
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["clinical", "assignments"] });
      navigate("/clinical");
    },
  });
  return (
    <Stack gap="xs">
      <ErrorNote message={complete.error?.message} />
      <Button color="#1b5e20" onClick={() => complete.mutate()} loading={complete.isPending}>{t("clinical.completeConsultation")}</Button>
    </Stack>
  );
}

export function ClinicalPatient({ patientId }: { patientId: string }) {
  const record = useRecord(patientId);
  const setMode = useRef<(mode: "viewing" | "editing") => void>(() => undefined);
  const onEditing = () => setMode.current("editing");
  const r = record.data;
  return (
    <>
      <PatientHeader patientId={patientId} shownBelow={["vital_signs", "lab_results", "diagnosis", "prescription"]} title={(name) => t("clinical.title", { name })}
        setModeRef={(fn) => { setMode.current = fn; }} />
      <ErrorNote message={record.error?.message} />
      {r && (
        <Grid>
          <Grid.Col span={{ base: 12, md: 6 }}>
            <Stack>
              <Section title={t("clinical.triage")} side={<TypingHint patientId={patientId} field="vital_signs" />}>
                <TriageFindings record={r} />
              </Section>
              <Section title={t("clinical.earlierVisits")}>
                <EarlierVisits record={r} />
              </Section>
              <Section title={t("clinical.results")} side={<TypingHint patientId={patientId} field="lab_results" />}>
                <LabResults record={r} />
              </Section>
              <Section title={t("clinical.diagnoses")} side={<TypingHint patientId={patientId} field="diagnosis" />}>
                <Stack gap="xs">
                  {r.diagnoses.map((d) => (
                    <Text key={d.id} size="sm"><b>{d.diagnosisCode}</b> {d.diagnosisName}{d.notes ? ` — ${d.notes}` : ""}</Text>
                  ))}
                  <DiagnosisForm patientId={patientId} onEditing={onEditing} />
                </Stack>
              </Section>
            </Stack>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 6 }}>
            <Stack>
              <Section title={t("clinical.prescriptions")} side={<TypingHint patientId={patientId} field="prescription" />}>
                <Stack gap="xs">
                  {r.prescriptions.map((p) => (
                    <Text key={p.id} size="sm"><b>{p.medicationName}</b> {p.dosage}, {p.frequency}, {p.duration} · {p.status}</Text>
                  ))}
                  <PrescriptionForm patientId={patientId} onEditing={onEditing} />
                </Stack>
              </Section>
              <Section title={t("clinical.labOrders")}><LabOrderForm patientId={patientId} onEditing={onEditing} /></Section>
              <CompleteConsultation record={r} />
              <FollowUpForm patientId={patientId} visitId={r.visitId} />
            </Stack>
          </Grid.Col>
        </Grid>
      )}
      {!r && !record.error && <Alert>{t("common.loading")}</Alert>}
    </>
  );
}
