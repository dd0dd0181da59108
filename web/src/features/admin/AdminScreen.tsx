/** Admin: staff and duty roster, and a patient's audit history across services. */
import { Alert, Button, Grid, Group, Paper, Stack, Switch, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Department } from "../../api/client";
import { label, t } from "../../i18n";

const DEPARTMENTS: Department[] = ["triage", "clinical", "lab", "pharmacy", "billing"];
const AUDITED = ["registration", "triage", "clinical", "lab", "pharmacy", "billing", "notifier"] as const;

function useStaff() {
  return useQuery({
    queryKey: ["identity", "staff"],
    queryFn: () => unwrap(api.identity.GET("/staff")),
    retry: false,
  });
}

function Roster({ department }: { department: Department }) {
  const client = api[department] as unknown as typeof api.triage;
  const queryClient = useQueryClient();
  const duty = useQuery({ queryKey: [department, "duty"], queryFn: () => unwrap(client.GET("/duty")) });
  const set = useMutation({
    mutationFn: (args: { userId: string; onDuty: boolean }) => unwrap(client.POST("/duty", { body: args })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: [department, "duty"] }),
  });
  return (
    <Stack gap={4}>
      <Text fw={600}>{t(`nav.${department === "billing" ? "cashier" : department}`)}</Text>
      {(duty.data ?? []).map((d) => (
        <Switch key={d.userId} label={`${d.name} (${d.activeAssignments})`} checked={d.onDuty}
          onChange={(e) => set.mutate({ userId: d.userId, onDuty: e.currentTarget.checked })} />
      ))}
    </Stack>
  );
}

interface AuditRow { at?: string; time?: string; actor?: string; actorId?: string; action?: string; resource?: string; resourceId?: string; service?: string }

function AuditHistory() {
  const [patientId, setPatientId] = useState("");
  const [asked, setAsked] = useState("");
  const history = useQuery({
    queryKey: ["audit", asked],
    enabled: Boolean(asked),
    queryFn: async () => {
      const all = await Promise.all(
        AUDITED.map(async (service) => {
          const rows = (await unwrap(
            (api[service] as unknown as typeof api.triage).GET("/audit", { params: { query: { patientId: asked } } }),
          )) as unknown as AuditRow[];
          return rows.map((r) => ({ ...r, service }));
        }),
      );
      return all.flat().sort((a, b) => String(a.at ?? a.time).localeCompare(String(b.at ?? b.time)));
    },
  });
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="audit-title">
      <Title order={2} size="h3" id="audit-title" mb="sm">{t("admin.audit")}</Title>
      <form onSubmit={(e) => { e.preventDefault(); setAsked(patientId.trim()); }}>
        <Group align="flex-end">
          <TextInput label={t("admin.patientId")} value={patientId} onChange={(e) => setPatientId(e.currentTarget.value)} />
          <Button type="submit">{t("admin.show")}</Button>
        </Group>
      </form>
      {history.error && <Alert color="red" mt="sm">{history.error.message}</Alert>}
      {history.data && (
        <div style={{ overflowX: "auto" }}>
          <Table mt="sm" striped>
            <Table.Tbody>
              {history.data.map((r, i) => (
                <Table.Tr key={i}>
                  <Table.Td>{String(r.at ?? r.time ?? "")}</Table.Td>
                  <Table.Td>{r.service}</Table.Td>
                  <Table.Td>{r.actor ?? r.actorId}</Table.Td>
                  <Table.Td>{r.action}</Table.Td>
                  <Table.Td>{r.resource}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      )}
    </Paper>
  );
}

export function AdminScreen() {
  const staff = useStaff();
  const rows = staff.data ?? [];
  return (
    <Stack>
      <Title order={2} size="h2">{t("admin.title")}</Title>
      <Grid>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Paper withBorder p="md" component="section" aria-labelledby="staff-title">
            <Title order={2} size="h3" id="staff-title" mb="sm">{t("admin.staff")}</Title>
            {staff.isError && <Text c="gray.8">{t("admin.identityMissing")}</Text>}
            <Table>
              <Table.Tbody>
                {rows.map((s) => (
                  <Table.Tr key={s.id}><Table.Td>{s.name}</Table.Td><Table.Td>{s.id}</Table.Td><Table.Td>{s.roles.map((r) => label("role", r)).join(", ")}</Table.Td><Table.Td>{s.active ? "" : "inactive"}</Table.Td></Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Paper withBorder p="md" component="section" aria-labelledby="roster-title">
            <Title order={2} size="h3" id="roster-title" mb="sm">{t("admin.roster")}</Title>
            <Grid>{DEPARTMENTS.map((d) => <Grid.Col key={d} span={6}><Roster department={d} /></Grid.Col>)}</Grid>
          </Paper>
        </Grid.Col>
      </Grid>
      <AuditHistory />
    </Stack>
  );
}
