/** Triage: the worklist, and the work screen (vital signs parsed as typed, TEWS, category). */
import { Alert, Badge, Button, Grid, Group, Paper, Select, Stack, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useNavigate } from "react-router";
import { api, unwrap } from "../../api/client";
import { ApiError, fieldErrors } from "../../api/problem";
import type { Encounter } from "../../api/types";
import { ConflictDialog, type ConflictState } from "../../components/ConflictDialog";
import { ErrorNote } from "../../components/ErrorNote";
import { PatientHeader } from "../../components/PatientHeader";
import { useAssignments, Worklist } from "../../components/Worklist";
import { label, t } from "../../i18n";
import { TypingHint, useTypingSignal } from "../presence/presence";
import { parseBloodPressure, parseQuantity, suggestedCategory, tewsScore, type Parsed } from "./vitals";

export function TriageScreen() {
  const navigate = useNavigate();
  return (
    <Worklist department="triage" title={t("worklist.title", { department: t("nav.triage") })}
      onOpen={(a) => navigate(`/triage/patients/${a.patientId}`)} />
  );
}

interface TriageForm {
  bloodPressure: string;
  temperature: string;
  pulse: string;
  respiratoryRate: string;
  triageCategory: string | null;
  chiefComplaint: string;
}
const FIELDS = ["bloodPressure", "temperature", "pulse", "respiratoryRate", "triageCategory", "chiefComplaint"];

function fromEncounter(e: Encounter): TriageForm {
  const vs = (e.vitalSigns ?? {}) as Record<string, { text?: string } | null | undefined>;
  return {
    bloodPressure: vs.bloodPressure?.text?.replace(/\s*mmHg$/, "") ?? "",
    temperature: vs.temperature?.text ?? "",
    pulse: vs.pulse?.text ?? "",
    respiratoryRate: vs.respiratoryRate?.text ?? "",
    triageCategory: e.triageCategory ?? null,
    chiefComplaint: e.chiefComplaint ?? "",
  };
}

export function triageBody(form: TriageForm): Record<string, unknown> {
  const vitalSigns: Record<string, string> = {};
  for (const key of ["bloodPressure", "temperature", "pulse", "respiratoryRate"] as const) {
    if (form[key].trim()) vitalSigns[key] = form[key].trim();
  }
  const body: Record<string, unknown> = { vitalSigns };
  if (form.triageCategory) body.triageCategory = form.triageCategory;
  if (form.chiefComplaint.trim()) body.chiefComplaint = form.chiefComplaint.trim();
  return body;
}

function Preview({ parsed }: { parsed: Parsed }) {
  if (!parsed) return null;
  return parsed.ok ? <span>= {parsed.reading.text}</span> : <span>{parsed.message}</span>;
}

function EncounterForm({ encounter, patientId, onEditing }: { encounter: Encounter; patientId: string; onEditing: () => void }) {
  const queryClient = useQueryClient();
  const [base, setBase] = useState(encounter);
  const [form, setForm] = useState<TriageForm>(() => fromEncounter(encounter));
  const [conflict, setConflict] = useState<ConflictState | null>(null);
  const [done, setDone] = useState<string>();
  const typingVitals = useTypingSignal(patientId, "vital_signs");
  const typingComplaint = useTypingSignal(patientId, "chief_complaint");
  const assignments = useAssignments("triage");
  const set = (patch: Partial<TriageForm>) => setForm((f) => ({ ...f, ...patch }));

  const save = useMutation({
    mutationFn: async (args: { body: Record<string, unknown>; version: number; complete: boolean }) => {
      const saved = await unwrap(
        api.triage.PATCH("/encounters/{encounter_id}", {
          params: { path: { encounter_id: base.id } },
          body: { ...args.body, version: args.version } as never,
        }),
      );
      if (args.complete) {
        const assignment = (assignments.data ?? []).find((a) => a.visitId === base.visitId)
          ?? (await unwrap(api.triage.GET("/assignments", { params: { query: { visitId: base.visitId } } })))[0];
        if (assignment) {
          await unwrap(
            api.triage.PATCH("/assignments/{assignment_id}", {
              params: { path: { assignment_id: assignment.id } },
              body: { status: "COMPLETED", version: assignment.version },
            }),
          );
        }
      }
      return { saved, complete: args.complete };
    },
    onSuccess: ({ saved, complete }) => {
      setBase(saved);
      setForm(fromEncounter(saved));
      queryClient.setQueryData(["triage", "encounters", patientId], [saved]);
      void queryClient.invalidateQueries({ queryKey: ["triage", "assignments"] });
      setDone(complete ? t("triage.completed") : t("triage.saved"));
    },
    onError: (error, args) => {
      if (error instanceof ApiError && error.status === 409 && error.problem.current) {
        setConflict({
          detail: error.message,
          loaded: base as unknown as Record<string, unknown>,
          current: error.problem.current,
          mine: args.body,
        });
      }
    },
  });
  const errors = save.error instanceof ApiError && save.error.status === 409 ? {} : fieldErrors(save.error, FIELDS);

  const bp = parseBloodPressure(form.bloodPressure);
  const temperature = parseQuantity(form.temperature, "temperature");
  const pulse = parseQuantity(form.pulse, "pulse");
  const rr = parseQuantity(form.respiratoryRate, "respiratoryRate");
  const anyVital = [bp, temperature, pulse, rr].some((p) => p?.ok);
  const score = tewsScore({
    systolic: bp?.ok && "systolic" in bp ? bp.systolic : undefined,
    temperature: temperature?.ok ? temperature.reading.value : undefined,
    pulse: pulse?.ok ? pulse.reading.value : undefined,
    respiratoryRate: rr?.ok ? rr.reading.value : undefined,
  });

  const vital = (key: "bloodPressure" | "temperature" | "pulse" | "respiratoryRate", text: string, parsed: Parsed, placeholder: string) => (
    <TextInput
      label={text}
      placeholder={placeholder}
      value={form[key]}
      error={errors[key]}
      description={<Preview parsed={parsed} />}
      onFocus={onEditing}
      onChange={(e) => {
        set({ [key]: e.currentTarget.value } as Partial<TriageForm>);
        typingVitals();
      }}
    />
  );

  const submit = (complete: boolean) => {
    setDone(undefined);
    save.mutate({ body: triageBody(form), version: base.version, complete });
  };

  return (
    <Paper withBorder p="md">
      <form onSubmit={(e) => { e.preventDefault(); submit(false); }} noValidate>
        <Stack gap="sm">
          <Group justify="space-between">
            <Title order={3} size="h4">{t("triage.vitals")}</Title>
            <TypingHint patientId={patientId} field="vital_signs" />
          </Group>
          {done && <Alert color="green" role="status">{done}</Alert>}
          <ErrorNote message={errors[""]} />
          <Grid>
            <Grid.Col span={{ base: 12, sm: 6 }}>{vital("bloodPressure", t("triage.bp"), bp, "140/90")}</Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6 }}>{vital("temperature", t("triage.temperature"), temperature, "38.5°C")}</Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6 }}>{vital("pulse", t("triage.pulse"), pulse, "95 bpm")}</Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6 }}>{vital("respiratoryRate", t("triage.rr"), rr, "20/min")}</Grid.Col>
          </Grid>
          <Text role="status" aria-live="polite" fw={600}>
            {anyVital
              ? t("triage.tews", { score, category: label("category", suggestedCategory(score)) })
              : t("triage.tewsNone")}
          </Text>
          <Select
            label={t("triage.category")}
            value={form.triageCategory}
            error={errors.triageCategory}
            onFocus={onEditing}
            data={(["EMERGENCY", "URGENT", "NORMAL"] as const).map((c) => ({ value: c, label: label("category", c) }))}
            onChange={(value) => set({ triageCategory: value })}
          />
          <Textarea
            label={t("triage.complaint")}
            value={form.chiefComplaint}
            error={errors.chiefComplaint}
            autosize
            minRows={2}
            onFocus={onEditing}
            onChange={(e) => {
              set({ chiefComplaint: e.currentTarget.value });
              typingComplaint();
            }}
          />
          <TypingHint patientId={patientId} field="chief_complaint" />
          <Group>
            <Button type="submit" variant="default" loading={save.isPending}>{t("triage.save")}</Button>
            <Button onClick={() => submit(true)} loading={save.isPending}>{t("triage.saveAndComplete")}</Button>
          </Group>
        </Stack>
      </form>
      <ConflictDialog
        conflict={conflict}
        onReload={() => {
          const current = conflict?.current as unknown as Encounter;
          setBase(current);
          setForm(fromEncounter(current));
          setConflict(null);
        }}
        onReapply={() => {
          const current = conflict?.current as unknown as Encounter;
          const mine = conflict?.mine ?? {};
          setBase(current);
          setConflict(null);
          save.mutate({ body: mine, version: current.version, complete: false });
        }}
      />
    </Paper>
  );
}

export function TriagePatient({ patientId }: { patientId: string }) {
  const setMode = useRef<(mode: "viewing" | "editing") => void>(() => undefined);
  const encounters = useQuery({
    queryKey: ["triage", "encounters", patientId],
    queryFn: () => unwrap(api.triage.GET("/encounters", { params: { query: { patientId } } })),
  });
  const list = encounters.data ?? [];
  const encounter = list.find((e) => e.status !== "COMPLETED") ?? list[list.length - 1];
  return (
    <>
      <PatientHeader patientId={patientId} shownBelow={["vital_signs", "chief_complaint"]} title={(name) => t("triage.title", { name })}
        setModeRef={(fn) => { setMode.current = fn; }} />
      {encounter ? (
        <>
          {encounter.tewsScore !== null && (
            <Badge mb="sm" color="gray.8">{`TEWS ${encounter.tewsScore}`}</Badge>
          )}
          <EncounterForm key={encounter.id} encounter={encounter} patientId={patientId}
            onEditing={() => setMode.current("editing")} />
        </>
      ) : (
        <Text>{encounters.isLoading ? t("common.loading") : t("common.none")}</Text>
      )}
    </>
  );
}
