/** Reception: register a patient, today's visits board (live), correct details, follow-up. */
import {
  Alert,
  Button,
  Grid,
  Group,
  NumberInput,
  Paper,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Textarea,
  Title,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, idempotencyKey, unwrap } from "../../api/client";
import { ApiError, fieldErrors } from "../../api/problem";
import type { BoardStage, BoardVisit, Patient } from "../../api/types";
import { ConflictDialog, type ConflictState } from "../../components/ConflictDialog";
import { ErrorNote } from "../../components/ErrorNote";
import { EscalationBadge } from "../../components/EscalationBadge";
import { PatientHeader, usePatient } from "../../components/PatientHeader";
import { label, t } from "../../i18n";

const GENDERS = ["MALE", "FEMALE", "OTHER"] as const;
const INSURANCES = ["CASH", "SHA", "NHIF", "PRIVATE", "CORPORATE", "WAIVER"] as const;
const FIELDS = ["firstName", "lastName", "gender", "age", "phoneNumber", "insuranceType", "insuranceNumber"] as const;

interface Demographics {
  firstName: string;
  lastName: string;
  gender: string | null;
  age: number | string;
  phoneNumber: string;
  insuranceType: string | null;
  insuranceNumber: string;
}

const EMPTY: Demographics = {
  firstName: "",
  lastName: "",
  gender: null,
  age: "",
  phoneNumber: "",
  insuranceType: "CASH",
  insuranceNumber: "",
};

/** The form's values as the API wants them: empty fields left out. */
export function demographicsBody(form: Demographics): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (form.firstName.trim()) body.firstName = form.firstName.trim();
  if (form.lastName.trim()) body.lastName = form.lastName.trim();
  if (form.gender) body.gender = form.gender;
  if (form.age !== "" && form.age !== null) body.age = Number(form.age);
  if (form.phoneNumber.trim()) body.phoneNumber = form.phoneNumber.trim();
  if (form.insuranceType) body.insuranceType = form.insuranceType;
  if (form.insuranceNumber.trim()) body.insuranceNumber = form.insuranceNumber.trim();
  return body;
}

function DemographicsFields({
  form,
  set,
  errors,
}: {
  form: Demographics;
  set: (patch: Partial<Demographics>) => void;
  errors: Record<string, string>;
}) {
  return (
    <>
      <Group grow align="flex-start">
        <TextInput label={t("reception.firstName")} value={form.firstName} error={errors.firstName}
          onChange={(e) => set({ firstName: e.currentTarget.value })} />
        <TextInput label={t("reception.lastName")} value={form.lastName} error={errors.lastName}
          onChange={(e) => set({ lastName: e.currentTarget.value })} />
      </Group>
      <Group grow align="flex-start">
        <Select label={t("reception.gender")} value={form.gender} error={errors.gender}
          data={GENDERS.map((g) => ({ value: g, label: label("gender", g) }))}
          onChange={(value) => set({ gender: value })} />
        <NumberInput label={t("reception.age")} value={form.age} error={errors.age} min={0} max={130}
          allowDecimal={false} onChange={(value) => set({ age: value })} />
      </Group>
      <TextInput label={t("reception.phone")} value={form.phoneNumber} error={errors.phoneNumber}
        type="tel" onChange={(e) => set({ phoneNumber: e.currentTarget.value })} />
      <Group grow align="flex-start">
        <Select label={t("reception.insurance")} value={form.insuranceType} error={errors.insuranceType}
          data={INSURANCES.map((i) => ({ value: i, label: label("insurance", i) }))}
          onChange={(value) => set({ insuranceType: value })} />
        <TextInput label={t("reception.insuranceNumber")} value={form.insuranceNumber}
          error={errors.insuranceNumber} onChange={(e) => set({ insuranceNumber: e.currentTarget.value })} />
      </Group>
    </>
  );
}

function RegisterForm() {
  const queryClient = useQueryClient();
  const [form, setForm] = useState<Demographics>(EMPTY);
  const [registered, setRegistered] = useState<Patient | null>(null);
  const register = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      unwrap(
        api.registration.POST("/patients", {
          body: body as never,
          headers: { "Idempotency-Key": idempotencyKey() },
        }),
      ),
    onSuccess: (patient) => {
      setRegistered(patient);
      setForm(EMPTY);
      void queryClient.invalidateQueries({ queryKey: ["registration", "visits"] });
    },
  });
  const errors = fieldErrors(register.error, FIELDS);

  function submit(event: FormEvent) {
    event.preventDefault();
    setRegistered(null);
    register.mutate(demographicsBody(form));
  }

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="register-title">
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          <Title order={2} size="h3" id="register-title">
            {t("reception.register")}
          </Title>
          {registered && (
            <Alert color="green" role="status">
              {t("reception.registered", { name: registered.fullName, op: registered.opNumber })}
            </Alert>
          )}
          <ErrorNote message={errors[""]} />
          <DemographicsFields form={form} set={(patch) => setForm((f) => ({ ...f, ...patch }))} errors={errors} />
          <Button type="submit" loading={register.isPending}>
            {t("reception.submit")}
          </Button>
        </Stack>
      </form>
    </Paper>
  );
}

/** Who has the patient now at one stage: a name, or the department's shared queue; and the
 * waiting-time escalation when the patient has waited there past their target. */
function StageHolder({ stage }: { stage: BoardStage }) {
  const department = label("stage", stage.stage);
  const name = stage.assignedToName ?? stage.assignedToUserId;
  return (
    <Stack gap={2} align="flex-start">
      {name ? (
        <Text size="sm">
          {name}{" "}
          <Text span size="xs" c="gray.8">
            ({department})
          </Text>
        </Text>
      ) : (
        <Text size="sm">{t("reception.waitingIn", { department })}</Text>
      )}
      <EscalationBadge level={stage.escalationLevel} />
    </Stack>
  );
}

function VisitRow({ visit }: { visit: BoardVisit }) {
  return (
    <Table.Tr>
      <Table.Td>
        <Link to={`/reception/patients/${visit.patientId}`}>{visit.patientName}</Link>
        <Text size="xs" c="gray.8">
          {visit.opNumber}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm" fw={600} c={visit.status === "COMPLETED" ? "#1b5e20" : "blue.9"}>
          {label("status", visit.status)}
        </Text>
      </Table.Td>
      <Table.Td>
        <Stack gap={6}>
          {visit.stages.map((stage) => (
            <StageHolder key={`${stage.stage}-${stage.since}`} stage={stage} />
          ))}
        </Stack>
      </Table.Td>
      <Table.Td style={{ whiteSpace: "nowrap" }}>
        {new Date(visit.openedAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}
      </Table.Td>
      <Table.Td>{label("payment", visit.paymentStatus)}</Table.Td>
    </Table.Tr>
  );
}

export function VisitsBoard() {
  // The clinic's day, newest first, with who has each patient now (registration's board);
  // notifier frames (visit_updated, patient_registered, ...) make it stale.
  const board = useQuery({
    queryKey: ["registration", "visits", "board"],
    queryFn: () => unwrap(api.registration.GET("/visit-board", { params: { query: { limit: 200 } } })),
    refetchInterval: 60_000,
  });
  const rows = board.data ?? [];
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="board-title">
      <Title order={2} size="h3" id="board-title" mb="sm">
        {t("reception.board")}
      </Title>
      <div role="region" aria-label={t("reception.board")} style={{ overflowX: "auto" }}>
        {rows.length === 0 ? (
          <Text c="gray.8">{t("reception.boardEmpty")}</Text>
        ) : (
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("worklist.patient")}</Table.Th>
                <Table.Th>{t("reception.status")}</Table.Th>
                <Table.Th>{t("reception.withNow")}</Table.Th>
                <Table.Th>{t("reception.arrived")}</Table.Th>
                <Table.Th>{t("cashier.paid")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((v) => (
                <VisitRow key={v.id} visit={v} />
              ))}
            </Table.Tbody>
          </Table>
        )}
      </div>
    </Paper>
  );
}

export function ReceptionScreen() {
  return (
    <Grid>
      <Grid.Col span={{ base: 12, lg: 5 }}>
        <RegisterForm />
      </Grid.Col>
      <Grid.Col span={{ base: 12, lg: 7 }}>
        <VisitsBoard />
      </Grid.Col>
    </Grid>
  );
}

function toForm(p: Patient): Demographics {
  return {
    firstName: p.firstName,
    lastName: p.lastName,
    gender: p.gender,
    age: p.age ?? "",
    phoneNumber: p.phoneNumber ?? "",
    insuranceType: p.insuranceType,
    insuranceNumber: p.insuranceNumber ?? "",
  };
}

function CorrectForm({ patient }: { patient: Patient }) {
  const queryClient = useQueryClient();
  const [base, setBase] = useState<Patient>(patient);
  const [form, setForm] = useState<Demographics>(() => toForm(patient));
  const [conflict, setConflict] = useState<ConflictState | null>(null);
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: (args: { body: Record<string, unknown>; version: number }) =>
      unwrap(
        api.registration.PATCH("/patients/{patient_id}", {
          params: { path: { patient_id: patient.id } },
          body: { ...args.body, version: args.version } as never,
        }),
      ),
    onSuccess: (next) => {
      setBase(next);
      setForm(toForm(next));
      setSaved(true);
      queryClient.setQueryData(["registration", "patients", patient.id], next);
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
  const changes = (): Record<string, unknown> => {
    const mine = demographicsBody(form);
    const before = demographicsBody(toForm(base));
    return Object.fromEntries(Object.entries(mine).filter(([k, v]) => before[k] !== v));
  };

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="correct-title">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          save.mutate({ body: changes(), version: base.version });
        }}
        noValidate
      >
        <Stack gap="sm">
          <Title order={3} size="h4" id="correct-title">
            {t("reception.correct")}
          </Title>
          {saved && <Alert color="green" role="status">{t("reception.corrected")}</Alert>}
          <ErrorNote message={errors[""]} />
          <DemographicsFields form={form} set={(patch) => setForm((f) => ({ ...f, ...patch }))} errors={errors} />
          <Button type="submit" loading={save.isPending}>
            {t("common.save")}
          </Button>
        </Stack>
      </form>
      <ConflictDialog
        conflict={conflict}
        onReload={() => {
          const current = conflict?.current as unknown as Patient;
          setBase(current);
          setForm(toForm(current));
          setConflict(null);
        }}
        onReapply={() => {
          const current = conflict?.current as unknown as Patient;
          const mine = conflict?.mine ?? {};
          setBase(current);
          setConflict(null);
          save.mutate({ body: mine, version: current.version });
        }}
      />
    </Paper>
  );
}

export function FollowUpForm({ patientId, visitId }: { patientId: string; visitId?: string | null }) {
  const queryClient = useQueryClient();
  const [date, setDate] = useState("");
  const [notes, setNotes] = useState("");
  const schedule = useMutation({
    mutationFn: () =>
      unwrap(
        api.registration.POST("/appointments", {
          body: { patientId, appointmentDate: date, appointmentType: "FOLLOW_UP", notes: notes || null, visitId: visitId ?? null },
          headers: { "Idempotency-Key": idempotencyKey() },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["registration", "appointments"] }),
  });
  const errors = fieldErrors(schedule.error, ["appointmentDate", "notes"]);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="followup-title">
      <form onSubmit={(e) => { e.preventDefault(); schedule.mutate(); }} noValidate>
        <Stack gap="sm">
          <Title order={3} size="h4" id="followup-title">{t("reception.followUp")}</Title>
          {schedule.isSuccess && (
            <Alert color="green" role="status">{t("reception.scheduled", { date: schedule.data.appointmentDate })}</Alert>
          )}
          <ErrorNote message={errors[""]} />
          <TextInput type="date" label={t("reception.appointmentDate")} value={date} error={errors.appointmentDate}
            onChange={(e) => setDate(e.currentTarget.value)} />
          <Textarea label={t("reception.notes")} value={notes} error={errors.notes} autosize minRows={2}
            onChange={(e) => setNotes(e.currentTarget.value)} />
          <Button type="submit" loading={schedule.isPending}>{t("reception.followUp")}</Button>
        </Stack>
      </form>
    </Paper>
  );
}

/** A returning patient's next visit (registration refuses it while another is open). */
function NewVisit({ patient }: { patient: Patient }) {
  const queryClient = useQueryClient();
  const open = useMutation({
    mutationFn: () =>
      unwrap(
        api.registration.POST("/patients/{patient_id}/visits", {
          params: { path: { patient_id: patient.id } },
          body: {},
          headers: { "Idempotency-Key": idempotencyKey() },
        }),
      ),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["registration"] }),
  });
  const status = patient.visit?.status;
  if (!open.isSuccess && status && status !== "COMPLETED" && status !== "CANCELLED") return null;
  return (
    <Stack gap="xs" mb="md" align="flex-start">
      {open.isSuccess ? (
        <Alert color="green" role="status">{t("reception.visitOpened", { name: patient.fullName })}</Alert>
      ) : (
        <Button onClick={() => open.mutate()} loading={open.isPending}>{t("reception.newVisit")}</Button>
      )}
      <ErrorNote message={open.error?.message} />
    </Stack>
  );
}

export function ReceptionPatient({ patientId }: { patientId: string }) {
  const patient = usePatient(patientId);
  return (
    <>
      <PatientHeader patientId={patientId} title={(name) => name} />
      {patient.data && <NewVisit patient={patient.data} />}
      <Grid>
        <Grid.Col span={{ base: 12, md: 7 }}>
          {patient.data && <CorrectForm patient={patient.data} />}
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <FollowUpForm patientId={patientId} visitId={patient.data?.visit?.id ?? null} />
        </Grid.Col>
      </Grid>
    </>
  );
}
